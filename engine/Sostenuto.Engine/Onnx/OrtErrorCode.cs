namespace Sostenuto.Engine.Onnx;

/// <summary>
/// Mirrors <c>OrtErrorCode</c> from onnxruntime_c_api.h, value for value. The C enum is
/// append-only, so a newer runtime may report a code past <see cref="DeviceReset"/>; it is
/// then carried through as its plain number rather than being mapped to something wrong.
/// </summary>
public enum OrtErrorCode
{
    Ok = 0,
    Fail = 1,
    InvalidArgument = 2,
    NoSuchFile = 3,
    NoModel = 4,
    EngineError = 5,
    RuntimeException = 6,
    InvalidProtobuf = 7,
    ModelLoaded = 8,
    NotImplemented = 9,
    InvalidGraph = 10,
    EpFail = 11,
    ModelLoadCanceled = 12,
    ModelRequiresCompilation = 13,
    NotFound = 14,
    DeviceReset = 15,
}
