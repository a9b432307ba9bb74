namespace Sostenuto.Engine.Tests;

/// <summary>Locations in the checkout the tests run from.</summary>
public static class TestPaths
{
    static readonly Lazy<string> s_repoRoot = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Plugin.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Plugin.sln above {AppContext.BaseDirectory}");
    });

    /// <summary>The folder holding Plugin.sln, found by walking up from the test assembly.</summary>
    public static string RepoRoot => s_repoRoot.Value;

    /// <summary>models/fixture: the untrained fixture package (models/default links to it).</summary>
    public static string FixtureModel => Path.Combine(RepoRoot, "models", "fixture");

    public static string DemoMidi => Path.Combine(RepoRoot, "examples", "demo.mid");
}

/// <summary>A fresh temporary folder, deleted with everything in it on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "sostenuto-test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
