namespace Sostenuto.Engine.Serving;

/// <summary>Why a frame was refused; the names are docs/protocol.md's (and the C++ decoder's) snake_case names.</summary>
public enum ProtocolError
{
    TruncatedFrame,
    OversizePayload,
    UnknownMessageType,
    NonzeroReserved,
    PayloadTooShort,
    PayloadTooLong,
    BadMagic,
    UnsupportedVersion,
    InvalidValue,
    InvalidUtf8,
    UnexpectedMessage,
}

/// <summary>A malformed or out-of-place frame: the connection that sent it is closed, no other is touched.</summary>
public sealed class ProtocolException(ProtocolError error, string detail) : Exception($"{SnakeCase(error)}: {detail}")
{
    public ProtocolError Error { get; } = error;

    public static string SnakeCase(ProtocolError error) =>
        string.Concat(error.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
