using Sostenuto.Engine.Midi;

namespace Sostenuto.Engine.Serving;

// The messages of the plug-in <-> engine pipe (docs/protocol.md is the byte-level definition;
// native-bridge/include/sostenuto/bridge/protocol_messages.h is the C++ twin of this file).

public enum MessageType : ushort
{
    Hello = 0x0001,
    MidiEvents = 0x0002,
    ClockAdvance = 0x0003,
    ParameterChange = 0x0004,
    Transport = 0x0005,
    ProcessMode = 0x0006,
    Goodbye = 0x0007,
    Welcome = 0x0101,
    Status = 0x0102,
    Error = 0x0103,
}

public enum ProcessMode : byte { Realtime = 0, Offline = 1 }
public enum LatencyMode : byte { Live = 0, Studio = 1 }
public enum TransportKind : byte { Flush = 0 }

public enum EngineErrorCode : ushort
{
    ProtocolError = 1,
    UnsupportedVersion = 2,
    AudioRingUnusable = 3,
    ModelUnavailable = 4,
    Overloaded = 5,
    Internal = 6,
}

public abstract record ProtocolMessage
{
    public abstract MessageType Type { get; }
}

public sealed record HelloMessage(
    ushort ProtocolVersion, uint SampleRate, uint MaxBlockSize, ProcessMode ProcessMode, LatencyMode LatencyMode,
    uint RequestedLookaheadSamples, uint ComputeSlackSamples, ulong InstanceId, string SharedMemoryName) : ProtocolMessage
{
    public override MessageType Type => MessageType.Hello;
}

public sealed record MidiEventsMessage(IReadOnlyList<MidiEvent> Events) : ProtocolMessage
{
    public override MessageType Type => MessageType.MidiEvents;
}

public sealed record ClockAdvanceMessage(ulong StreamTime) : ProtocolMessage
{
    public override MessageType Type => MessageType.ClockAdvance;
}

public sealed record ParameterChangeMessage(ulong StreamTime, uint ParameterId, float Value) : ProtocolMessage
{
    public override MessageType Type => MessageType.ParameterChange;
}

public sealed record TransportMessage(TransportKind Kind, ulong StreamTime) : ProtocolMessage
{
    public override MessageType Type => MessageType.Transport;
}

public sealed record ProcessModeMessage(ProcessMode Mode, ulong StreamTime) : ProtocolMessage
{
    public override MessageType Type => MessageType.ProcessMode;
}

public sealed record GoodbyeMessage : ProtocolMessage
{
    public override MessageType Type => MessageType.Goodbye;
}

public sealed record WelcomeMessage(
    ushort ProtocolVersion, uint TotalLatencySamples, uint LookaheadSamples, uint RingCapacityFrames,
    string ModelName, string ModelVersion, uint Flags) : ProtocolMessage
{
    public const uint FlagUntrained = 1;
    /// <summary>
    /// The engine renders this (live) session ahead of the read claim by itself (<see cref="SpeculativeRingWriter"/>
    /// keeps 100 ms), so the front end may hold a ClockAdvance back for up to 20 ms when its block sends nothing else.
    /// </summary>
    public const uint FlagRendersAhead = 2;
    public override MessageType Type => MessageType.Welcome;
}

public sealed record StatusMessage(ulong RenderedUntil, uint Underruns, uint LateEvents) : ProtocolMessage
{
    public override MessageType Type => MessageType.Status;
}

public sealed record ErrorMessage(ushort Code, string Message) : ProtocolMessage
{
    public override MessageType Type => MessageType.Error;
}
