using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Sostenuto.Engine.Onnx;

namespace Sostenuto.Engine.Model;

/// <summary>
/// A loaded model package: the manifest plus the two ONNX Runtime sessions, checked against each other.
/// One package serves every stream of the process; streams own their own tensors (see <see cref="Streaming.ModelStream"/>).
/// </summary>
public sealed class ModelPackage : IDisposable
{
    public const string ManifestFileName = "model.json";

    /// <summary>The largest ONNX file loaded: protobuf's own limit for one message (2 GiB).</summary>
    public const long MaxOnnxBytes = int.MaxValue;

    ModelPackage(string directory, ModelManifest manifest, OnnxSession lm, OnnxSession decoder)
    {
        Directory = directory;
        Manifest = manifest;
        Lm = lm;
        Decoder = decoder;
    }

    public string Directory { get; }
    public ModelManifest Manifest { get; }
    public OnnxSession Lm { get; }
    public OnnxSession Decoder { get; }

    /// <summary>Loads and validates a package folder. Throws <see cref="ModelPackageException"/> naming the file and field at fault.</summary>
    public static ModelPackage Load(string directory, SessionSettings? options = null)
    {
        options = OnceEach(options ?? new SessionSettings());
        if (!System.IO.Directory.Exists(directory))
            throw new ModelPackageException(directory, "", "no such model package folder");
        var manifestPath = Path.Combine(directory, ManifestFileName);
        var manifest = ModelManifestParser.Read(manifestPath);

        // The two sessions are built side by side: building them (ORT's graph optimisation) is most
        // of an engine's start-up, and an engine restarted after a crash has players waiting (issue #19).
        OnnxEnvironment.EnsureCreated();
        var decoderOpening = Task.Run(() => OpenSession(directory, manifestPath, "decoder", manifest.Decoder, options));
        OnnxSession? lm = null, decoder = null;
        Exception? lmError = null, decoderError = null;
        try { lm = OpenSession(directory, manifestPath, "lm", manifest.Lm, options); }
        catch (Exception e) { lmError = e; }
        try { decoder = decoderOpening.GetAwaiter().GetResult(); }
        catch (Exception e) { decoderError = e; }
        if (lmError is null && decoderError is null) return new ModelPackage(directory, manifest, lm!, decoder!);
        lm?.Dispose();
        decoder?.Dispose();
        // The LM's error first, as when the two were opened one after the other.
        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(lmError ?? decoderError!);
        throw new System.Diagnostics.UnreachableException();
    }

    static OnnxSession OpenSession(string directory, string manifestPath, string field, NetworkSpec spec, SessionSettings options)
    {
        var onnxPath = Path.Combine(directory, spec.File);
        if (IO.UnixFile.LinkStatus(onnxPath) is null) throw new ModelPackageException(manifestPath, $"{field}.file", $"\"{spec.File}\" does not exist in the package");
        OnnxSession session;
        try
        {
            // Checked on the open handle (a regular file, inside the package, at most MaxOnnxBytes), and ONNX Runtime
            // is given the path the kernel resolved for that handle while we hold it open.
            var (handle, _) = IO.UnixFile.OpenBounded(onnxPath, MaxOnnxBytes, within: directory);
            using (handle) session = new OnnxSession(IO.UnixFile.RealPathOf(handle), options);
        }
        catch (IO.UnixFileException e) { throw new ModelPackageException(onnxPath, "", e.Reason, e); }
        catch (OnnxRuntimeException e) { throw new ModelPackageException(onnxPath, "", $"ONNX Runtime cannot load it: {OnnxErrors.WithoutCode(e)}", e); }
        try
        {
            CheckTensors(onnxPath, $"{field}.inputs", spec.Inputs, session.Inputs, "input");
            CheckTensors(onnxPath, $"{field}.outputs", spec.Outputs, session.Outputs, "output");
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Both networks make the same device choice; its note (e.g. the CUDA fallback) is logged once, not once per network.</summary>
    static SessionSettings OnceEach(SessionSettings options)
    {
        if (options.Log is not { } log) return options;
        var seen = new HashSet<string>();
        return options with { Log = line => { lock (seen) { if (!seen.Add(line)) return; } log(line); } };
    }

    /// <summary>The manifest's declarations and the session's real tensors must agree one to one.</summary>
    static void CheckTensors(string onnxPath, string field, IReadOnlyList<TensorSpec> declared, IReadOnlyList<TensorInfo> actual, string kind)
    {
        for (int i = 0; i < declared.Count; i++)
        {
            var spec = declared[i];
            var info = actual.FirstOrDefault(t => t.Name == spec.Name);
            var at = $"{field}[{i}]";
            if (info is null)
                throw new ModelPackageException(onnxPath, at, $"the model has no {kind} named \"{spec.Name}\" (its {kind}s: {string.Join(", ", actual.Select(t => t.Name))})");
            var expectedType = spec.Type == TensorType.Float32 ? TensorElementType.Float : TensorElementType.Int64;
            if (info.ElementType != expectedType)
                throw new ModelPackageException(onnxPath, at, $"{kind} \"{spec.Name}\" is {info.ElementType} in the model, the manifest says {ModelManifestParser.TypeName(spec.Type)}");
            if (!ShapeMatches(spec.Shape, info.Shape))
                throw new ModelPackageException(onnxPath, at, $"{kind} \"{spec.Name}\" has shape {Describe(info)} in the model, the manifest says {spec.ShapeText}");
        }
        foreach (var info in actual)
            if (!declared.Any(d => d.Name == info.Name))
                throw new ModelPackageException(onnxPath, field, $"the model's {kind} \"{info.Name}\" is not declared in the manifest");
    }

    static bool ShapeMatches(long[] declared, long[] actual)
    {
        if (declared.Length != actual.Length) return false;
        for (int d = 0; d < declared.Length; d++)
        {
            if (d == 0 && declared[d] == TensorSpec.BatchDimension) { if (actual[d] is not (-1 or 1)) return false; }
            else if (actual[d] != declared[d]) return false;
        }
        return true;
    }

    static string Describe(TensorInfo info) =>
        "[" + string.Join(", ", info.Shape.Select((d, i) => d >= 0 ? d.ToString() : info.SymbolicDimensions[i] is { Length: > 0 } s ? s : "?")) + "]";

    public void Dispose()
    {
        Lm.Dispose();
        Decoder.Dispose();
    }
}
