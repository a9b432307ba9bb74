namespace Sostenuto.Engine.Model;

/// <summary>
/// The contents of a package's <c>model.json</c>, checked field by field (docs/model-format.md).
/// Construction goes through <see cref="ModelManifestParser"/>; an instance is always valid on its own.
/// Whether the ONNX files agree with it is <see cref="ModelPackage"/>'s concern.
/// </summary>
public sealed record ModelManifest
{
    public required string Name { get; init; }
    public required string Version { get; init; }
    public required string Description { get; init; }
    public required string License { get; init; }
    public required bool Untrained { get; init; }
    public required IReadOnlyList<DataSource> Sources { get; init; }

    public required int SampleRate { get; init; }
    public required int Channels { get; init; }
    /// <summary>Model samples per codec frame.</summary>
    public required int HopLength { get; init; }

    public required int Codebooks { get; init; }
    public required int CodebookSize { get; init; }
    /// <summary>The codec's tokens for silence: the frame assumed before the start of every stream.</summary>
    public required IReadOnlyList<int> SilenceTokens { get; init; }

    public required int LookaheadFrames { get; init; }
    public required IReadOnlyList<ConditioningFeature> Features { get; init; }
    /// <summary>Width of one frame's feature vector: the sum of the feature sizes.</summary>
    public int ConditioningSize => Features.Sum(ConditioningFeatures.Size);

    public required SamplingSettings Sampling { get; init; }

    /// <summary>
    /// The package's declaration (model.json <c>rest.afterSeconds</c>, docs/idle.md): this many seconds after
    /// an event that leaves no key held or sustained, with no event since, the model's output is silence.
    /// The engine then stops running the stream (it fades it out over the flush fade from that time) and
    /// the next note starts a fresh one. Null: not declared; a stream runs until a flush.
    /// </summary>
    public double? RestAfterSeconds { get; init; }

    public required NetworkSpec Lm { get; init; }
    public required DecoderSpec Decoder { get; init; }
}

public sealed record DataSource(string Name, string License);

/// <summary>Sampling defaults: temperature, then top-k (0 = off), then top-p (1 = off).</summary>
public sealed record SamplingSettings(float Temperature, int TopK, float TopP)
{
    public static readonly SamplingSettings Default = new(1f, 0, 1f);
}

/// <summary>An ONNX file and the tensors it is declared to have, by role.</summary>
public record NetworkSpec(string File, IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs)
{
    public TensorSpec Input(string role) => Inputs.Single(t => t.Role == role);
    public TensorSpec Output(string role) => Outputs.Single(t => t.Role == role);
}

public sealed record DecoderSpec(
    string File, IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs,
    int WindowFrames, int ChunkFrames, int OverlapFrames)
    : NetworkSpec(File, Inputs, Outputs)
{
    /// <summary>Frames decoded before the kept region only to give the decoder context.</summary>
    public int LeftContextFrames => WindowFrames - ChunkFrames - OverlapFrames;
}

/// <summary>
/// One declared tensor. <see cref="Shape"/> holds -1 where the manifest says "batch" (only the first dimension).
/// </summary>
public sealed record TensorSpec(string Name, string Role, TensorType Type, long[] Shape, string? StateOutput)
{
    public const long BatchDimension = -1;

    public string ShapeText => "[" + string.Join(", ", Shape.Select(d => d == BatchDimension ? "batch" : d.ToString())) + "]";

    /// <summary>Elements per batch item: the product of every dimension but the first.</summary>
    public long ElementsPerItem => Shape.Skip(1).Aggregate(1L, (a, b) => a * b);
}

public enum TensorType { Float32, Int64 }

public static class TensorRoles
{
    public const string Tokens = "tokens";
    public const string Conditioning = "conditioning";
    public const string State = "state";
    public const string Logits = "logits";
    public const string Audio = "audio";
}
