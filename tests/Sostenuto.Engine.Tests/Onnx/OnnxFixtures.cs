using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Onnx;

/// <summary>Locates the committed ONNX fixtures (tests/fixtures/onnx, made by make_models.py).</summary>
internal static class OnnxFixtures
{
    public static string RepoRoot => RepositoryPaths.Root;

    public static string Model(string fileName)
    {
        string path = Path.Combine(RepoRoot, "tests", "fixtures", "onnx", fileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Fixture missing: {path}. Regenerate with /usr/bin/python3 tests/fixtures/onnx/make_models.py", path);
        return path;
    }
}
