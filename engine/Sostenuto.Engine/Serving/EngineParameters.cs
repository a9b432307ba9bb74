namespace Sostenuto.Engine.Serving;

/// <summary>Parameter ids of the ParameterChange message (docs/protocol.md); values are plain, not normalised.</summary>
public static class EngineParameters
{
    /// <summary>Sampling temperature, 0.05 … 2.</summary>
    public const uint Temperature = 1;
}
