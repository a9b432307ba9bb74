namespace Sostenuto.Engine.Onnx;

/// <summary>
/// The OrtMemoryInfo that says "plain CPU memory", which ORT needs to wrap a managed buffer in
/// a tensor. It is immutable and identical for every tensor, so one is created per process and
/// kept for the process lifetime (a static root: never finalized while tensors could use it).
/// </summary>
internal static unsafe class CpuMemoryInfo
{
    private const int OrtDeviceAllocator = 0; // OrtAllocatorType: we own the buffer, no arena involved
    private const int OrtMemTypeDefault = 0;  // OrtMemType

    private static readonly object s_gate = new();
    private static OrtMemoryInfoHandle? s_handle;

    public static OrtMemoryInfoHandle Handle
    {
        get
        {
            var h = Volatile.Read(ref s_handle);
            if (h is not null) return h;
            lock (s_gate)
            {
                if (s_handle is null)
                {
                    IntPtr info;
                    OrtApi.Check(OrtApi.Instance.CreateCpuMemoryInfo(OrtDeviceAllocator, OrtMemTypeDefault, &info));
                    Volatile.Write(ref s_handle, new OrtMemoryInfoHandle(info));
                }
                return s_handle!;
            }
        }
    }
}
