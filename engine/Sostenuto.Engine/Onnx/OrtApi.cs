using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// The slice of ONNX Runtime's C API function table (<c>struct OrtApi</c>) that Sostenuto uses,
/// as typed unmanaged function pointers.
/// <para>
/// <c>OrtGetApiBase()->GetApi(N)</c> returns a pointer to a struct of function pointers. ORT
/// only ever appends to that struct, so a function's index (its position in the struct, counted
/// from 0 in onnxruntime_c_api.h) is stable across releases, and asking for version N guarantees
/// at least N's entries exist. We read just the entries we need by index instead of mirroring
/// the ~400-entry struct. Indices were counted from the header; the ones a second source pins
/// down (CreateEnv 3, CreateSession 7, Run 9, CreateSessionOptions 10, SetIntraOpNumThreads 24,
/// CreateTensorWithDataAsOrtValue 49, GetTensorMutableData 51, CreateCpuMemoryInfo 69,
/// ReleaseValue 96, AddSessionConfigEntry 130) agree with that count.
/// </para>
/// <para>
/// Opaque ORT objects are passed as <see cref="IntPtr"/>; ownership lives in the SafeHandles
/// (see OrtHandles.cs). ORT_API_CALL is the platform default on x64 (Linux and Windows), which is
/// what [Cdecl] means there; 32-bit Windows (_stdcall) is not supported.
/// </para>
/// </summary>
internal sealed unsafe class OrtApi
{
    /// <summary>The C API version we ask for: ORT 1.30's. GetApi returns null for anything newer than the library.</summary>
    public const uint ApiVersion = 30;

    /// <summary>Layout of <c>OrtApiBase</c>: two function pointers, GetApi and GetVersionString.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct OrtApiBase
    {
        public delegate* unmanaged[Cdecl]<uint, IntPtr> GetApi;
        public delegate* unmanaged[Cdecl]<byte*> GetVersionString;
    }

    private static readonly object s_gate = new();
    private static OrtApi? s_instance;

    /// <summary>The process-wide table; loads the library on first use (see <see cref="OrtLibrary"/>).</summary>
    public static OrtApi Instance => Volatile.Read(ref s_instance) ?? Create();

    private static OrtApi Create()
    {
        lock (s_gate)
        {
            if (s_instance is null)
                Volatile.Write(ref s_instance, new OrtApi(OrtLibrary.Load(), OrtLibrary.LoadedFrom ?? "?"));
            return s_instance;
        }
    }

    /// <summary>ORT's version string, e.g. "1.30.0".</summary>
    public readonly string Version;

    /// <summary>The library image the table came from; also used to find provider libraries and legacy exports.</summary>
    public readonly IntPtr LibraryHandle;

    // ---- status -------------------------------------------------------------------------------
    public readonly delegate* unmanaged[Cdecl]<IntPtr, int> GetErrorCode;                       // 1
    public readonly delegate* unmanaged[Cdecl]<IntPtr, byte*> GetErrorMessage;                  // 2
    public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseStatus;                     // 93

    // ---- environment --------------------------------------------------------------------------
    public readonly delegate* unmanaged[Cdecl]<int, byte*, IntPtr*, IntPtr> CreateEnv;          // 3 (level, logid, out)
    public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseEnv;                        // 92

    // ---- session options ----------------------------------------------------------------------
    public readonly delegate* unmanaged[Cdecl]<IntPtr*, IntPtr> CreateSessionOptions;           // 10
    public readonly delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr> SetSessionExecutionMode;    // 13
    public readonly delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr> SetSessionGraphOptimizationLevel; // 23
    public readonly delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr> SetIntraOpNumThreads;       // 24
    public readonly delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr> SetInterOpNumThreads;       // 25
    public readonly delegate* unmanaged[Cdecl]<IntPtr, byte*, byte*, IntPtr> AddSessionConfigEntry; // 130
    public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseSessionOptions;             // 100

    // ---- session ------------------------------------------------------------------------------
    /// <summary>(env, ORTCHAR_T* model_path, options, out session). ORTCHAR_T is char on Linux, wchar_t on Windows.</summary>
    public readonly delegate* unmanaged[Cdecl]<IntPtr, void*, IntPtr, IntPtr*, IntPtr> CreateSession; // 7
    /// <summary>(session, run_options, input_names, inputs, input_len, output_names, output_len, outputs).</summary>
    public readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr*, IntPtr*, nuint, IntPtr*, nuint, IntPtr*, IntPtr> Run; // 9
    public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr> SessionGetInputCount;    // 30
    public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr> SessionGetOutputCount;   // 31
    public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr*, IntPtr> SessionGetInputTypeInfo;  // 33
    public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr*, IntPtr> SessionGetOutputTypeInfo; // 34
    public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr, byte**, IntPtr> SessionGetInputName;  // 36 (allocator-owned string)
    public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr, byte**, IntPtr> SessionGetOutputName; // 37
    public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseSession;                    // 95

    // ---- values / tensors ---------------------------------------------------------------------
    /// <summary>(memory_info, data, data_len_bytes, shape, shape_len, element_type, out value). ORT does not own data.</summary>
    public readonly delegate* unmanaged[Cdecl]<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr> CreateTensorWithDataAsOrtValue; // 49
    public readonly delegate* unmanaged[Cdecl]<IntPtr, void**, IntPtr> GetTensorMutableData;    // 51
    public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseValue;                      // 96

    // ---- type info ----------------------------------------------------------------------------
    /// <summary>Borrowed result (owned by the type info); null for non-tensor types.</summary>
    public readonly delegate* unmanaged[Cdecl]<IntPtr, IntPtr*, IntPtr> CastTypeInfoToTensorInfo; // 55
    public readonly delegate* unmanaged[Cdecl]<IntPtr, int*, IntPtr> GetTensorElementType;      // 60
    public readonly delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr> GetDimensionsCount;      // 61
    public readonly delegate* unmanaged[Cdecl]<IntPtr, long*, nuint, IntPtr> GetDimensions;     // 62
    /// <summary>Fills borrowed char* pointers (owned by the type info; "" when a dim has no name).</summary>
    public readonly delegate* unmanaged[Cdecl]<IntPtr, byte**, nuint, IntPtr> GetSymbolicDimensions; // 63
    public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseTypeInfo;                   // 98

    // ---- memory -------------------------------------------------------------------------------
    public readonly delegate* unmanaged[Cdecl]<int, int, IntPtr*, IntPtr> CreateCpuMemoryInfo;  // 69 (allocator type, mem type, out)
    public readonly delegate* unmanaged[Cdecl]<IntPtr, void> ReleaseMemoryInfo;                 // 94
    public readonly delegate* unmanaged[Cdecl]<IntPtr, void*, IntPtr> AllocatorFree;            // 76
    /// <summary>ORT's process-wide default CPU allocator. Borrowed: never released.</summary>
    public readonly delegate* unmanaged[Cdecl]<IntPtr*, IntPtr> GetAllocatorWithDefaultOptions; // 78

    private OrtApi(IntPtr library, string loadedFrom)
    {
        LibraryHandle = library;
        var getApiBase = (delegate* unmanaged[Cdecl]<OrtApiBase*>)NativeLibrary.GetExport(library, "OrtGetApiBase");
        OrtApiBase* apiBase = getApiBase();
        Version = Marshal.PtrToStringUTF8((IntPtr)apiBase->GetVersionString()) ?? "unknown";
        var table = (IntPtr*)apiBase->GetApi(ApiVersion);
        if (table == null)
        {
            // OrtLibrary already screens for this; kept so the table can never be read through null.
            throw new OrtLibraryNotFoundException(
                $"ONNX Runtime {Version} at {loadedFrom} does not provide C API version {ApiVersion} (too old; need 1.{ApiVersion} or newer).",
                new[] { $"{loadedFrom}: C API version {ApiVersion} not supported" });
        }

        GetErrorCode = (delegate* unmanaged[Cdecl]<IntPtr, int>)Entry(table, 1);
        GetErrorMessage = (delegate* unmanaged[Cdecl]<IntPtr, byte*>)Entry(table, 2);
        CreateEnv = (delegate* unmanaged[Cdecl]<int, byte*, IntPtr*, IntPtr>)Entry(table, 3);
        CreateSession = (delegate* unmanaged[Cdecl]<IntPtr, void*, IntPtr, IntPtr*, IntPtr>)Entry(table, 7);
        Run = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr*, IntPtr*, nuint, IntPtr*, nuint, IntPtr*, IntPtr>)Entry(table, 9);
        CreateSessionOptions = (delegate* unmanaged[Cdecl]<IntPtr*, IntPtr>)Entry(table, 10);
        SetSessionExecutionMode = (delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr>)Entry(table, 13);
        SetSessionGraphOptimizationLevel = (delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr>)Entry(table, 23);
        SetIntraOpNumThreads = (delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr>)Entry(table, 24);
        SetInterOpNumThreads = (delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr>)Entry(table, 25);
        SessionGetInputCount = (delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr>)Entry(table, 30);
        SessionGetOutputCount = (delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr>)Entry(table, 31);
        SessionGetInputTypeInfo = (delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr*, IntPtr>)Entry(table, 33);
        SessionGetOutputTypeInfo = (delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr*, IntPtr>)Entry(table, 34);
        SessionGetInputName = (delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr, byte**, IntPtr>)Entry(table, 36);
        SessionGetOutputName = (delegate* unmanaged[Cdecl]<IntPtr, nuint, IntPtr, byte**, IntPtr>)Entry(table, 37);
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged[Cdecl]<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr>)Entry(table, 49);
        GetTensorMutableData = (delegate* unmanaged[Cdecl]<IntPtr, void**, IntPtr>)Entry(table, 51);
        CastTypeInfoToTensorInfo = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr*, IntPtr>)Entry(table, 55);
        GetTensorElementType = (delegate* unmanaged[Cdecl]<IntPtr, int*, IntPtr>)Entry(table, 60);
        GetDimensionsCount = (delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr>)Entry(table, 61);
        GetDimensions = (delegate* unmanaged[Cdecl]<IntPtr, long*, nuint, IntPtr>)Entry(table, 62);
        GetSymbolicDimensions = (delegate* unmanaged[Cdecl]<IntPtr, byte**, nuint, IntPtr>)Entry(table, 63);
        CreateCpuMemoryInfo = (delegate* unmanaged[Cdecl]<int, int, IntPtr*, IntPtr>)Entry(table, 69);
        AllocatorFree = (delegate* unmanaged[Cdecl]<IntPtr, void*, IntPtr>)Entry(table, 76);
        GetAllocatorWithDefaultOptions = (delegate* unmanaged[Cdecl]<IntPtr*, IntPtr>)Entry(table, 78);
        ReleaseEnv = (delegate* unmanaged[Cdecl]<IntPtr, void>)Entry(table, 92);
        ReleaseStatus = (delegate* unmanaged[Cdecl]<IntPtr, void>)Entry(table, 93);
        ReleaseMemoryInfo = (delegate* unmanaged[Cdecl]<IntPtr, void>)Entry(table, 94);
        ReleaseSession = (delegate* unmanaged[Cdecl]<IntPtr, void>)Entry(table, 95);
        ReleaseValue = (delegate* unmanaged[Cdecl]<IntPtr, void>)Entry(table, 96);
        ReleaseTypeInfo = (delegate* unmanaged[Cdecl]<IntPtr, void>)Entry(table, 98);
        ReleaseSessionOptions = (delegate* unmanaged[Cdecl]<IntPtr, void>)Entry(table, 100);
        AddSessionConfigEntry = (delegate* unmanaged[Cdecl]<IntPtr, byte*, byte*, IntPtr>)Entry(table, 130);
    }

    private static IntPtr Entry(IntPtr* table, int index)
    {
        IntPtr p = table[index];
        // A hole would mean a wrong index or a stripped-down build; fail at load, not mid-run.
        if (p == IntPtr.Zero)
            throw new InvalidOperationException($"ONNX Runtime API table entry {index} is null.");
        return p;
    }

    /// <summary>
    /// Turns a non-null <c>OrtStatus*</c> into an <see cref="OrtException"/> (and releases the
    /// status). Success is a null pointer, so the hot path is one compare and no allocation.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Check(IntPtr status)
    {
        if (status != IntPtr.Zero) Throw(status);
    }

    [DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw(IntPtr status) => throw Instance.ToException(status);

    /// <summary>Reads code and message out of a status and releases it.</summary>
    public OrtException ToException(IntPtr status)
    {
        try
        {
            var code = (OrtErrorCode)GetErrorCode(status);
            string message = Marshal.PtrToStringUTF8((IntPtr)GetErrorMessage(status)) ?? "(no message)";
            return new OrtException(code, message);
        }
        finally
        {
            ReleaseStatus(status);
        }
    }
}
