using System.Runtime.InteropServices;

namespace Sostenuto.Engine.Onnx;

// SafeHandles that own ONNX Runtime objects, as in the official C# binding: each native object
// has exactly one owner, released once (Dispose or, failing that, the finalizer), and ref-counted
// by the runtime while a call is using it (DangerousAddRef), so disposing on one thread cannot
// free an object another thread is passing to ORT. Handles that depend on other native objects
// hold a reference to them so release order is always dependent-first.

/// <summary>Base for ORT object handles: null means invalid, and the owner is always us.</summary>
internal abstract class OrtHandle : SafeHandle
{
    protected OrtHandle(IntPtr native)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(native);
    }

    public override bool IsInvalid => handle == IntPtr.Zero;
}

/// <summary>Owns an OrtEnv.</summary>
internal sealed unsafe class OrtEnvHandle(IntPtr native) : OrtHandle(native)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseEnv(handle);
        return true;
    }
}

/// <summary>Owns an OrtSessionOptions. Only needed until the session is created.</summary>
internal sealed unsafe class OrtSessionOptionsHandle(IntPtr native) : OrtHandle(native)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseSessionOptions(handle);
        return true;
    }
}

/// <summary>
/// Owns an OrtSession. A session must not outlive its OrtEnv (the env owns logging and, with
/// global thread pools, the threads), so the handle holds a counted reference on the env handle
/// and drops it only after releasing the session.
/// </summary>
internal sealed unsafe class OrtSessionHandle : OrtHandle
{
    private readonly OrtEnvHandle _env;

    public OrtSessionHandle(IntPtr native, OrtEnvHandle env)
        : base(native)
    {
        bool added = false;
        env.DangerousAddRef(ref added);
        _env = env;
    }

    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseSession(handle);
        _env.DangerousRelease();
        return true;
    }
}

/// <summary>
/// Owns an OrtValue. When the value wraps caller memory (CreateTensorWithDataAsOrtValue) ORT
/// keeps only a raw pointer, so the handle also holds the managed buffer: as long as anything
/// can reach the native value, the GC sees the buffer as reachable too. (A pinned array kept
/// alive only by native code is collectable; its memory would be reused and ORT would silently
/// read and write someone else's data.)
/// </summary>
internal sealed unsafe class OrtValueHandle(IntPtr native, object? buffer) : OrtHandle(native)
{
    /// <summary>The memory the native tensor points into; read by nobody, it exists to be a GC root.</summary>
    internal object? Buffer { get; } = buffer;

    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseValue(handle);
        return true;
    }
}

/// <summary>Owns an OrtMemoryInfo.</summary>
internal sealed unsafe class OrtMemoryInfoHandle(IntPtr native) : OrtHandle(native)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseMemoryInfo(handle);
        return true;
    }
}

/// <summary>Owns an OrtTypeInfo (and with it the borrowed tensor info and symbolic-dim strings inside).</summary>
internal sealed unsafe class OrtTypeInfoHandle(IntPtr native) : OrtHandle(native)
{
    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.ReleaseTypeInfo(handle);
        return true;
    }
}

/// <summary>
/// Owns a NUL-terminated UTF-8 string that ORT allocated with an OrtAllocator (e.g. input and
/// output names); it must go back to that same allocator, not to free() or CoTaskMemFree.
/// </summary>
internal sealed unsafe class OrtAllocatedStringHandle(IntPtr native, IntPtr allocator) : OrtHandle(native)
{
    private readonly IntPtr _allocator = allocator;

    public override string ToString()
    {
        bool added = false;
        DangerousAddRef(ref added);
        try { return Marshal.PtrToStringUTF8(handle) ?? ""; }
        finally { DangerousRelease(); }
    }

    protected override bool ReleaseHandle()
    {
        // AllocatorFree reports failure via status, but a release path has nowhere to throw to.
        IntPtr status = OrtApi.Instance.AllocatorFree(_allocator, (void*)handle);
        if (status != IntPtr.Zero) OrtApi.Instance.ReleaseStatus(status);
        return status == IntPtr.Zero;
    }
}
