namespace Sostenuto.Engine.Serving;

/// <summary>Parameter ids of the ParameterChange message (docs/protocol.md); values are plain, not normalised.</summary>
public static class EngineParameters
{
    /// <summary>Sampling temperature as a factor of the model's own default, 0.05 … 2 (1 = as the model's author chose).</summary>
    public const uint Temperature = 1;
}
