namespace Sostenuto.Engine.Serving;

/// <summary>Parameter ids of the ParameterChange message (docs/protocol.md); values are plain, not normalised.
/// The full list, as the C++ bridge's <c>bridge::EngineParameter</c>; tests/protocol-vectors/engine_parameters.txt is shared.</summary>
public static class EngineParameters
{
    /// <summary>Sampling temperature as a factor of the model's own default, 0.05 … 2 (1 = as the model's author chose).</summary>
    public const uint Temperature = 1;

    /// <summary>Latency mode, the front end's choice: live 0, studio 1 or auto 2 (C++'s <c>bridge::LatencyChoice</c>, the owner of the numbers).
    /// For the record: the Hello's mode rules each session (auto runs a studio session and a live one beside it; a change is a new session).</summary>
    public const uint LatencyMode = 2;

    /// <summary>Requested lookahead in ms: for the record, as <see cref="LatencyMode"/>.</summary>
    public const uint LookaheadMs = 3;
}
