using System.Text;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// A loaded ONNX model, ready to run. Construction reads the model's input/output metadata once;
/// running goes through <see cref="Prepare"/>, which fixes names and buffers up front so the
/// per-block call allocates nothing.
/// </summary>
public sealed unsafe class InferenceSession : IDisposable
{
    private readonly OrtSessionHandle _handle;

    /// <summary>Loads <paramref name="modelPath"/>. Missing or invalid files raise <see cref="OrtException"/> whose message names the file.</summary>
    public InferenceSession(string modelPath, SessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        options ??= new SessionOptions();
        ModelPath = Path.GetFullPath(modelPath);
        var env = OrtEnvironment.Shared;
        var api = OrtApi.Instance;

        using (var nativeOptions = options.ToNative(out bool cuda))
        {
            UsesCuda = cuda;
            IntPtr session;
            IntPtr status = CreateSession(api, env.Handle, ModelPath, nativeOptions, &session);
            if (status != IntPtr.Zero)
            {
                var e = api.ToException(status);
                // ORT names the path in its load errors today; make sure it always does, since
                // "Protobuf parsing failed" alone does not say which of several models broke.
                throw e.Message.Contains(ModelPath, StringComparison.Ordinal) ? e : new OrtException(e.Code, $"{e.Message} (model: {ModelPath})");
            }
            _handle = new OrtSessionHandle(session, env.Handle);
        }

        IntPtr allocator;
        OrtApi.Check(api.GetAllocatorWithDefaultOptions(&allocator));
        Inputs = ReadMetadata(api, allocator, isInput: true);
        Outputs = ReadMetadata(api, allocator, isInput: false);
    }

    /// <summary>Absolute path of the loaded model.</summary>
    public string ModelPath { get; }

    /// <summary>Declared inputs, in model order.</summary>
    public IReadOnlyList<TensorInfo> Inputs { get; }

    /// <summary>Declared outputs, in model order.</summary>
    public IReadOnlyList<TensorInfo> Outputs { get; }

    /// <summary>Whether the CUDA execution provider was registered (see <see cref="SessionOptions.UseCuda"/>).</summary>
    public bool UsesCuda { get; }

    internal OrtSessionHandle Handle => _handle;

    /// <summary>
    /// Fixes which inputs are fed and which outputs are fetched, and allocates the native name
    /// and value arrays once. Every model input must be listed; outputs may be a subset. Names
    /// are checked here, and tensors are checked when bound, so <see cref="PreparedRun.Run"/>
    /// has nothing left to validate.
    /// </summary>
    public PreparedRun Prepare(string[] inputNames, string[] outputNames)
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return new PreparedRun(this, inputNames, outputNames);
    }

    public void Dispose() => _handle.Dispose();

    private static IntPtr CreateSession(OrtApi api, OrtEnvHandle env, string path, OrtSessionOptionsHandle options, IntPtr* session)
    {
        // ORTCHAR_T: wchar_t (UTF-16) on Windows, char (UTF-8 here) elsewhere. A pinned .NET
        // string is already NUL-terminated UTF-16.
        if (OperatingSystem.IsWindows())
        {
            fixed (char* p = path)
                return api.CreateSession(env.DangerousGetHandle(), p, options.DangerousGetHandle(), session);
        }
        byte[] utf8 = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = utf8)
            return api.CreateSession(env.DangerousGetHandle(), p, options.DangerousGetHandle(), session);
    }

    private TensorInfo[] ReadMetadata(OrtApi api, IntPtr allocator, bool isInput)
    {
        IntPtr session = _handle.DangerousGetHandle();
        nuint count;
        OrtApi.Check(isInput ? api.SessionGetInputCount(session, &count) : api.SessionGetOutputCount(session, &count));
        var infos = new TensorInfo[(int)count];
        for (nuint i = 0; i < count; i++)
        {
            byte* rawName;
            OrtApi.Check(isInput ? api.SessionGetInputName(session, i, allocator, &rawName) : api.SessionGetOutputName(session, i, allocator, &rawName));
            string name;
            using (var owned = new OrtAllocatedStringHandle((IntPtr)rawName, allocator))
                name = owned.ToString();

            IntPtr typeInfo;
            OrtApi.Check(isInput ? api.SessionGetInputTypeInfo(session, i, &typeInfo) : api.SessionGetOutputTypeInfo(session, i, &typeInfo));
            using var ownedType = new OrtTypeInfoHandle(typeInfo);
            infos[(int)i] = ReadTensorInfo(api, name, typeInfo);
        }
        GC.KeepAlive(_handle);
        return infos;
    }

    private static TensorInfo ReadTensorInfo(OrtApi api, string name, IntPtr typeInfo)
    {
        // Borrowed from the type info: valid until it is released, never released itself.
        IntPtr tensorInfo;
        OrtApi.Check(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo));
        if (tensorInfo == IntPtr.Zero) // sequence, map, ...: not bindable with OrtTensor<T>
            return new TensorInfo(name, TensorElementType.Undefined, [], []);

        int elementType;
        nuint rank;
        OrtApi.Check(api.GetTensorElementType(tensorInfo, &elementType));
        OrtApi.Check(api.GetDimensionsCount(tensorInfo, &rank));
        var shape = new long[(int)rank];
        var symbolic = new string[(int)rank];
        if (rank > 0)
        {
            var names = new IntPtr[(int)rank];
            fixed (long* pShape = shape)
            fixed (IntPtr* pNames = names)
            {
                OrtApi.Check(api.GetDimensions(tensorInfo, pShape, rank));
                OrtApi.Check(api.GetSymbolicDimensions(tensorInfo, (byte**)pNames, rank));
            }
            for (int d = 0; d < symbolic.Length; d++)
                symbolic[d] = names[d] == IntPtr.Zero ? "" : System.Runtime.InteropServices.Marshal.PtrToStringUTF8(names[d]) ?? "";
        }
        return new TensorInfo(name, (TensorElementType)elementType, shape, symbolic);
    }
}
