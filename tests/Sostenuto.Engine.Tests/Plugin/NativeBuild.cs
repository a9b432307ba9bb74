using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Plugin;

/// <summary>The native build's outputs (`make native`): the VST3 bundle and the headless test host.</summary>
static class NativeBuild
{
    public static string Bundle => Require(Path.Combine(RepositoryPaths.Root, "build", "Sostenuto.vst3"), Directory.Exists);
    public static string TestHost => Require(Path.Combine(RepositoryPaths.Root, "build", "tests", "vst3-host", "sostenuto-test-host"), File.Exists);

    static string Require(string path, Func<string, bool> exists) =>
        exists(path) ? path : throw new InvalidOperationException($"{path} is missing: run 'make native' (make test does) before these tests");
}
