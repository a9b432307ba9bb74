namespace Sostenuto.Benchmarks;

/// <summary>Locations in the checkout, found by walking up from the benchmark's folder to Plugin.sln (BenchmarkDotNet runs each benchmark from a generated folder under bin/).</summary>
public static class RepoPaths
{
    static readonly Lazy<string> s_root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Plugin.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Plugin.sln above {AppContext.BaseDirectory}");
    });

    public static string Root => s_root.Value;

    /// <summary>models/fixture: the untrained fixture package.</summary>
    public static string FixtureModel => Path.Combine(Root, "models", "fixture");

    /// <summary>models/NAME: a model package folder (fixture, default).</summary>
    public static string ModelPackage(string name) => Path.Combine(Root, "models", name);

    public static string DemoMidi => Path.Combine(Root, "examples", "demo.mid");
}
