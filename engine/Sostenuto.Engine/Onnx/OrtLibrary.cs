using System.Runtime.InteropServices;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// Finds and loads the ONNX Runtime shared library. We bind the C API ourselves (there is no
/// ONNX Runtime NuGet package available to us), so instead of relying on [DllImport] probing
/// we search an explicit, documented list of places and load the first usable library with
/// <see cref="NativeLibrary"/>. Order:
/// <list type="number">
/// <item><see cref="ExplicitPath"/> (a file, or a directory holding <see cref="FileName"/>);</item>
/// <item>the <c>SOSTENUTO_ORT_LIBRARY</c> environment variable (same forms);</item>
/// <item>next to the app (<see cref="AppContext.BaseDirectory"/>), then its <c>native/&lt;rid&gt;/</c>;</item>
/// <item>the repository's <c>native/&lt;rid&gt;/</c>, found by walking up from the app directory
///   (this is where scripts/setup.sh puts it, so tests and <c>dotnet run</c> work in a checkout);</item>
/// <item>the system loader by bare name (<c>libonnxruntime.so.1</c> / <c>onnxruntime.dll</c>).</item>
/// </list>
/// A candidate counts as usable only if it loads, exports <c>OrtGetApiBase</c> and serves
/// C API version <see cref="OrtApi.ApiVersion"/>; otherwise the reason is recorded and the
/// search moves on. If nothing is usable, <see cref="OrtLibraryNotFoundException"/> lists
/// every place and reason.
/// </summary>
public static class OrtLibrary
{
    public const string EnvironmentVariable = "SOSTENUTO_ORT_LIBRARY";

    private static readonly object s_gate = new();
    private static string? s_explicitPath;
    private static IntPtr s_handle;
    private static string? s_loadedFrom;

    /// <summary>
    /// Highest-priority location: a library file or the directory containing it. Must be set
    /// before the first ONNX Runtime call; once a library is loaded it cannot be swapped
    /// (native code from the first one is already in use).
    /// </summary>
    public static string? ExplicitPath
    {
        get { lock (s_gate) return s_explicitPath; }
        set
        {
            lock (s_gate)
            {
                if (s_handle != IntPtr.Zero && value != s_explicitPath)
                    throw new InvalidOperationException($"ONNX Runtime is already loaded from {s_loadedFrom}; set OrtLibrary.ExplicitPath before the first ONNX Runtime call.");
                s_explicitPath = value;
            }
        }
    }

    /// <summary>Where the library was loaded from (a path, or the bare name for the system loader); null before loading.</summary>
    public static string? LoadedFrom { get { lock (s_gate) return s_loadedFrom; } }

    /// <summary>The platform's file name for the library.</summary>
    public static string FileName => OperatingSystem.IsWindows() ? "onnxruntime.dll" : "libonnxruntime.so.1";

    /// <summary>The repository-relative folder scripts/setup.sh installs the library into.</summary>
    internal static string NativeSubdirectory => Path.Combine("native", OperatingSystem.IsWindows() ? "win-x64" : "linux-x64");

    /// <summary>Loads the library if needed and returns its handle. Thread-safe; failures are not cached, so fixing the setup and retrying works.</summary>
    internal static IntPtr Load()
    {
        lock (s_gate)
        {
            if (s_handle != IntPtr.Zero) return s_handle;
            var candidates = BuildCandidates(s_explicitPath, Environment.GetEnvironmentVariable(EnvironmentVariable), AppContext.BaseDirectory);
            var (handle, from) = Probe(candidates, TryLoad);
            s_loadedFrom = from;
            s_handle = handle;
            return handle;
        }
    }

    /// <summary>
    /// One place to look. <see cref="Target"/> is a file path (or, for the system loader, a bare
    /// name); <see cref="Unavailable"/> is set when there is nothing to try (e.g. variable unset),
    /// so the failure message can still say the place was considered.
    /// </summary>
    internal readonly record struct Candidate(string Source, string? Target, string? Unavailable = null);

    /// <summary>Attempts one candidate. On failure returns false with a one-line reason.</summary>
    internal delegate bool TryLoadFunc(Candidate candidate, out IntPtr handle, out string failure);

    /// <summary>Builds the ordered candidate list. Touches the file system only to walk up for the repository folder.</summary>
    internal static List<Candidate> BuildCandidates(string? explicitPath, string? environmentValue, string baseDirectory)
    {
        var list = new List<Candidate>
        {
            FromSetting("OrtLibrary.ExplicitPath", explicitPath),
            FromSetting($"${EnvironmentVariable}", environmentValue),
            new("next to the app", Path.Combine(baseDirectory, FileName)),
            new("app's native folder", Path.Combine(baseDirectory, NativeSubdirectory, FileName)),
            FindInRepository(baseDirectory),
            // The bare name lets dlopen/LoadLibrary apply LD_LIBRARY_PATH, ldconfig, PATH, etc.
            new("system loader", FileName),
        };
        return list;
    }

    private static Candidate FromSetting(string source, string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return new(source, null, "not set");
        // Accept a directory for convenience: people point at the folder they unpacked.
        string path = Directory.Exists(value) ? Path.Combine(value, FileName) : value;
        return new(source, Path.GetFullPath(path));
    }

    private static Candidate FindInRepository(string baseDirectory)
    {
        const string source = "repository native folder";
        var dir = new DirectoryInfo(baseDirectory).Parent;
        for (; dir != null; dir = dir.Parent)
        {
            string path = Path.Combine(dir.FullName, NativeSubdirectory, FileName);
            if (File.Exists(path)) return new(source, path);
        }
        return new(source, null, $"no directory above {baseDirectory} contains {Path.Combine(NativeSubdirectory, FileName)} (run scripts/setup.sh)");
    }

    /// <summary>
    /// The search itself, as a pure function of the candidates and the loader, so tests can
    /// check order and the failure message without touching the real process state.
    /// Returns the first handle <paramref name="tryLoad"/> accepts.
    /// </summary>
    internal static (IntPtr Handle, string From) Probe(IReadOnlyList<Candidate> candidates, TryLoadFunc tryLoad)
    {
        var attempts = new List<string>(candidates.Count);
        foreach (var c in candidates)
        {
            string where = c.Target is null ? c.Source : $"{c.Source} ({c.Target})";
            if (c.Unavailable is not null)
            {
                attempts.Add($"{where}: {c.Unavailable}");
                continue;
            }
            if (tryLoad(c, out var handle, out var failure))
                return (handle, c.Target!);
            attempts.Add($"{where}: {failure}");
        }
        string message =
            $"Could not load the ONNX Runtime library ({FileName}, C API version {OrtApi.ApiVersion} or newer). Places tried, in order:"
            + string.Concat(attempts.Select((a, i) => $"{Environment.NewLine}  {i + 1}. {a}"))
            + $"{Environment.NewLine}Run scripts/setup.sh, or set OrtLibrary.ExplicitPath or ${EnvironmentVariable} to the library file.";
        throw new OrtLibraryNotFoundException(message, attempts);
    }

    /// <summary>The real loader: file check, NativeLibrary.Load, then "is this really a new enough ONNX Runtime?".</summary>
    internal static unsafe bool TryLoad(Candidate candidate, out IntPtr handle, out string failure)
    {
        handle = IntPtr.Zero;
        string target = candidate.Target!;
        bool isPath = Path.IsPathRooted(target);
        if (isPath && !File.Exists(target))
        {
            failure = "file does not exist";
            return false;
        }
        try
        {
            handle = NativeLibrary.Load(target);
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            // The runtime's message carries dlerror()/LoadLibrary's reason (missing dependency,
            // wrong architecture, bad ELF header), which is the useful part.
            failure = e.Message.ReplaceLineEndings(" ");
            return false;
        }
        if (!NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out var getApiBase))
        {
            NativeLibrary.Free(handle);
            handle = IntPtr.Zero;
            failure = "loaded, but it does not export OrtGetApiBase (not an ONNX Runtime library)";
            return false;
        }
        // An older runtime returns null from GetApi for a version it does not know, so checking
        // here lets a stale system copy be skipped in favour of a later candidate.
        var apiBase = ((delegate* unmanaged[Cdecl]<OrtApi.OrtApiBase*>)getApiBase)();
        if (apiBase->GetApi(OrtApi.ApiVersion) == IntPtr.Zero)
        {
            string version = Marshal.PtrToStringUTF8((IntPtr)apiBase->GetVersionString()) ?? "unknown";
            // Not freed: ORT libraries do not like being unloaded, and this one may be the
            // same image the system loader would hand back later.
            handle = IntPtr.Zero;
            failure = $"ONNX Runtime {version} does not provide C API version {OrtApi.ApiVersion} (too old; need 1.{OrtApi.ApiVersion} or newer)";
            return false;
        }
        failure = "";
        return true;
    }
}
