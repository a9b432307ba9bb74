using Sostenuto.Engine.Onnx;

namespace Sostenuto.Engine.Tests.Onnx;

public class OrtLibraryTests
{
    [Fact]
    public void Candidates_follow_the_documented_order()
    {
        string baseDir = Directory.CreateTempSubdirectory("sostenuto-ort-").FullName;
        try
        {
            var c = OrtLibrary.BuildCandidates("/opt/ort/libonnxruntime.so.1", "/env/ort/libonnxruntime.so.1", baseDir);

            Assert.Equal(
                ["OrtLibrary.ExplicitPath", "$SOSTENUTO_ORT_LIBRARY", "next to the app", "app's native folder", "repository native folder", "system loader"],
                c.Select(x => x.Source));
            Assert.Equal("/opt/ort/libonnxruntime.so.1", c[0].Target);
            Assert.Equal("/env/ort/libonnxruntime.so.1", c[1].Target);
            Assert.Equal(Path.Combine(baseDir, "libonnxruntime.so.1"), c[2].Target);
            Assert.Equal(Path.Combine(baseDir, "native", "linux-x64", "libonnxruntime.so.1"), c[3].Target);
            // Nothing above a temp dir holds native/linux-x64: considered, but nothing to try.
            Assert.Null(c[4].Target);
            Assert.Contains("no directory above", c[4].Unavailable);
            Assert.Equal("libonnxruntime.so.1", c[5].Target);
        }
        finally
        {
            Directory.Delete(baseDir, recursive: true);
        }
    }

    [Fact]
    public void Candidates_find_the_repository_native_folder_by_walking_up()
    {
        var c = OrtLibrary.BuildCandidates(null, null, AppContext.BaseDirectory);

        Assert.Equal("not set", c[0].Unavailable);
        Assert.Equal("not set", c[1].Unavailable);
        Assert.Equal(Path.Combine(OnnxFixtures.RepoRoot, "native", "linux-x64", "libonnxruntime.so.1"), c[4].Target);
    }

    [Fact]
    public void Directory_settings_mean_the_library_inside_them()
    {
        string dir = Directory.CreateTempSubdirectory("sostenuto-ort-").FullName;
        try
        {
            var c = OrtLibrary.BuildCandidates(dir, null, AppContext.BaseDirectory);
            Assert.Equal(Path.Combine(dir, OrtLibrary.FileName), c[0].Target);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Fact]
    public void Probe_returns_the_first_candidate_that_loads()
    {
        var candidates = new List<OrtLibrary.Candidate>
        {
            new("a", null, "not set"),
            new("b", "/b/lib.so"),
            new("c", "/c/lib.so"),
            new("d", "/d/lib.so"),
        };
        var tried = new List<string>();
        var (handle, from) = OrtLibrary.Probe(candidates, (OrtLibrary.Candidate c, out IntPtr h, out string why) =>
        {
            tried.Add(c.Source);
            h = c.Source == "c" ? 42 : 0;
            why = "nope";
            return h != 0;
        });

        Assert.Equal(42, handle);
        Assert.Equal("/c/lib.so", from);
        Assert.Equal(["b", "c"], tried); // "a" had nothing to try; "d" never reached
    }

    [Fact]
    public void Not_found_message_names_every_place_tried_and_why()
    {
        string baseDir = Directory.CreateTempSubdirectory("sostenuto-ort-").FullName;
        try
        {
            var candidates = OrtLibrary.BuildCandidates("/nowhere/explicit/libonnxruntime.so.1", null, baseDir);
            // The real loader for files; the system-loader entry is simulated, because this
            // process already has ORT loaded and dlopen by soname would just return it.
            var ex = Assert.Throws<OrtLibraryNotFoundException>(() => OrtLibrary.Probe(candidates,
                (OrtLibrary.Candidate c, out IntPtr h, out string why) =>
                {
                    if (c.Source == "system loader") { h = 0; why = "simulated: not on the loader path"; return false; }
                    return OrtLibrary.TryLoad(c, out h, out why);
                }));

            Assert.Equal(6, ex.Attempts.Count);
            Assert.Contains("OrtLibrary.ExplicitPath (/nowhere/explicit/libonnxruntime.so.1): file does not exist", ex.Message);
            Assert.Contains("$SOSTENUTO_ORT_LIBRARY: not set", ex.Message);
            Assert.Contains($"next to the app ({Path.Combine(baseDir, "libonnxruntime.so.1")}): file does not exist", ex.Message);
            Assert.Contains($"app's native folder ({Path.Combine(baseDir, "native", "linux-x64", "libonnxruntime.so.1")}): file does not exist", ex.Message);
            Assert.Contains($"repository native folder: no directory above {baseDir}", ex.Message);
            Assert.Contains("system loader (libonnxruntime.so.1): simulated: not on the loader path", ex.Message);
            Assert.Contains("scripts/setup.sh", ex.Message);
            // In search order.
            Assert.True(ex.Message.IndexOf("ExplicitPath", StringComparison.Ordinal) < ex.Message.IndexOf("system loader", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(baseDir, recursive: true);
        }
    }

    [Fact]
    public void A_file_that_is_not_a_library_is_rejected_with_the_loader_reason()
    {
        string garbage = Path.Combine(Directory.CreateTempSubdirectory("sostenuto-ort-").FullName, "libonnxruntime.so.1");
        File.WriteAllText(garbage, "this is not an ELF file");
        try
        {
            bool ok = OrtLibrary.TryLoad(new OrtLibrary.Candidate("test", garbage), out var handle, out var why);

            Assert.False(ok);
            Assert.Equal(IntPtr.Zero, handle);
            Assert.Contains(garbage, why);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(garbage)!, recursive: true);
        }
    }

    [Fact]
    public void The_real_library_loads_and_reports_its_version()
    {
        var env = OrtEnvironment.Shared;

        Assert.StartsWith("1.", env.Version);
        Assert.NotNull(OrtLibrary.LoadedFrom);
        Assert.True(File.Exists(OrtLibrary.LoadedFrom), OrtLibrary.LoadedFrom);
    }
}
