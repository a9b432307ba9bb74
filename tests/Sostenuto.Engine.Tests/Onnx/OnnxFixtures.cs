namespace Sostenuto.Engine.Tests.Onnx;

/// <summary>
/// Locates the committed ONNX fixtures (tests/fixtures/onnx, made by make_models.py) from the
/// test assembly by walking up to the repository root, i.e. the folder holding Plugin.sln.
/// </summary>
internal static class OnnxFixtures
{
    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);

    public static string RepoRoot => s_repoRoot.Value;

    public static string Model(string fileName)
    {
        string path = Path.Combine(RepoRoot, "tests", "fixtures", "onnx", fileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Fixture missing: {path}. Regenerate with /usr/bin/python3 tests/fixtures/onnx/make_models.py", path);
        return path;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Plugin.sln")))
                return dir.FullName;
        throw new DirectoryNotFoundException($"No directory above {AppContext.BaseDirectory} contains Plugin.sln.");
    }
}
