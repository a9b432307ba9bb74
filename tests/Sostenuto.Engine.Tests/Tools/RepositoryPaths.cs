namespace Sostenuto.Engine.Tests.Tools;

/// <summary>Finds files in the repository from the test binary's directory.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string DemoMidi => Path.Combine(Root, "examples", "demo.mid");
    public static string FixtureModel => Path.Combine(Root, "models", "fixture");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Plugin.sln"))) return directory.FullName;
        }
        throw new InvalidOperationException($"no Plugin.sln above {AppContext.BaseDirectory}");
    }
}
