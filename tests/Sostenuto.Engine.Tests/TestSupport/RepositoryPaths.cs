namespace Sostenuto.Engine.Tests.TestSupport;

/// <summary>Finds files of the repository from the test assembly's folder (the folder holding Plugin.sln is the root).</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string FixtureModel => Path.Combine(Root, "models", "fixture");
    public static string DemoMidi => Path.Combine(Root, "examples", "demo.mid");

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Plugin.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Plugin.sln above {AppContext.BaseDirectory}");
    }
}
