using Sostenuto.Engine.Tests.Tools;
using System.Text.Json.Nodes;
using Sostenuto.Engine.Model;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using Sostenuto.Engine.Streaming;
using static Sostenuto.Engine.Tests.Model.OnnxTestModel;

namespace Sostenuto.Engine.Tests.Model;

/// <summary>
/// docs/model-format.md, "Field rules": every rule, broken in a copy of models/fixture, must be refused
/// by <see cref="ModelPackage.Load"/> with one line naming the file and the field. Everything runs
/// against the real ONNX Runtime.
/// </summary>
public class ModelPackageTests
{
    // ---------------------------------------------------------------- the fixture

    [Fact]
    public void FixtureLoads()
    {
        using var package = ModelPackage.Load(RepositoryPaths.FixtureModel);
        var m = package.Manifest;
        Assert.Equal("sostenuto-fixture", m.Name);
        Assert.True(m.Untrained);
        Assert.Equal((24000, 1, 480), (m.SampleRate, m.Channels, m.HopLength));
        Assert.Equal((4, 256), (m.Codebooks, m.CodebookSize));
        Assert.Equal(641, m.ConditioningSize);
        Assert.Equal(["cond", "state_in", "tokens"], package.Lm.Inputs.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["logits", "state_out"], package.Lm.Outputs.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.Equal(["tokens"], package.Decoder.Inputs.Select(t => t.Name));
        Assert.Equal(["audio"], package.Decoder.Outputs.Select(t => t.Name));
        Assert.Equal(TensorElementType.Int64, package.Decoder.Inputs[0].ElementType);
        Assert.Equal([-1L, 4, 12], package.Decoder.Inputs[0].Shape); // symbolic batch in the file
    }

    [Fact]
    public void DefaultModelIsTheTrainedPiano()
    {
        // What `make demo`, the bundle and a render without --model play: the trained piano, with
        // its training sources declared (their licences are in the manifest and docs/model-card.md).
        using var package = ModelPackage.Load(Path.Combine(RepositoryPaths.Root, "models", "default"));
        var m = package.Manifest;
        Assert.Equal("sostenuto-piano", m.Name);
        Assert.False(m.Untrained);
        Assert.NotEmpty(m.Sources);
        Assert.Equal(24000, m.SampleRate);
    }

    [Fact]
    public void UnmodifiedCopyLoads()
    {
        // The baseline every broken copy below departs from: rewriting the manifest changes nothing.
        using var copy = new PackageCopy();
        using var package = copy.Load();
        Assert.Equal(copy.Dir, package.Directory);
    }

    [Fact]
    public void FixtureRunsOneLmStepAndOneDecodeOnTheRealRuntime()
    {
        using var package = ModelPackage.Load(RepositoryPaths.FixtureModel);
        using var lm = new LmStepper(package);
        lm.Step();
        for (int k = 0; k < package.Manifest.Codebooks; k++)
            Assert.All(lm.Logits(k).ToArray(), v => Assert.True(float.IsFinite(v)));

        using var decoder = new ChunkDecoder(package);
        var history = new TokenHistory(4, 20, package.Manifest.SilenceTokens);
        decoder.Decode(history, -1); // the window before the start: nothing but silence tokens,: the fixture decodes them to exact zeros
        Assert.All(decoder.Audio(0).ToArray(), v => Assert.Equal(0f, v));
    }

    // ---------------------------------------------------------------- field rules

    /// <summary>A way to break model.json and the field path the refusal must name (the file is model.json).</summary>
    public sealed record FieldCase(Action<JsonObject> Break, string Field, string? MessageContains = null);

    static FieldCase Set(string path, JsonNode? value, string? field = null, string? says = null) =>
        new(m => JsonPath.Set(m, path, value), field ?? path, says);

    static FieldCase Remove(string path, string? field = null, string? says = null) =>
        new(m => JsonPath.Remove(m, path), field ?? path, says);

    static FieldCase Edit(Action<JsonObject> edit, string field, string? says = null) => new(edit, field, says);

    static JsonArray Array(params JsonNode?[] items) => new(items);

    static JsonObject Tensor(string name, string role, string type, params JsonNode?[] shape)
    {
        var o = new JsonObject { ["name"] = name, ["role"] = role, ["type"] = type, ["shape"] = new JsonArray(shape) };
        return o;
    }

    /// <summary>One entry per rule of docs/model-format.md, "Field rules" (several per rule where a rule has several edges).</summary>
    public static readonly Dictionary<string, FieldCase> FieldCases = new()
    {
        // format is "sostenuto-model" and formatVersion is 1
        ["format: other name"] = Set("format", "sostenuto-modle", says: "sostenuto-model"),
        ["format: missing"] = Remove("format", says: "missing"),
        ["format: not a string"] = Set("format", 1),
        ["formatVersion: 2"] = Set("formatVersion", 2, says: "version 2"),
        ["formatVersion: 0"] = Set("formatVersion", 0),
        ["formatVersion: a string"] = Set("formatVersion", "1"),
        ["formatVersion: missing"] = Remove("formatVersion"),

        // name, version, license are non-empty strings; untrained marks a fixture; sources lists every source with its licence
        ["name: empty"] = Set("name", ""),
        ["name: blank"] = Set("name", "   "),
        ["name: missing"] = Remove("name"),
        ["name: a number"] = Set("name", 5),
        ["version: empty"] = Set("version", ""),
        ["version: missing"] = Remove("version"),
        ["version: a number"] = Set("version", 1),
        ["license: empty"] = Set("license", ""),
        ["license: missing"] = Remove("license"),
        ["license: null"] = Set("license", null),
        ["untrained: not a boolean"] = Set("untrained", "yes"),
        ["sources: not an array"] = Set("sources", "random weights"),
        ["sources[0]: no licence"] = Remove("sources[0].license"),
        ["sources[0]: no name"] = Remove("sources[0].name"),
        ["sources[0]: not an object"] = Set("sources[0]", "random weights"),

        // audio.sampleRate in 8000…192000; channels 1 or 2; hopLength >= 1
        ["audio.sampleRate: 7999"] = Set("audio.sampleRate", 7999, says: "8000"),
        ["audio.sampleRate: 192001"] = Set("audio.sampleRate", 192001, says: "192000"),
        ["audio.sampleRate: fractional"] = Set("audio.sampleRate", 24000.5),
        ["audio.sampleRate: a string"] = Set("audio.sampleRate", "24000"),
        ["audio.channels: 0"] = Set("audio.channels", 0),
        ["audio.channels: 3"] = Set("audio.channels", 3),
        ["audio.hopLength: 0"] = Set("audio.hopLength", 0),
        ["audio.hopLength: negative"] = Set("audio.hopLength", -480),
        ["audio: missing"] = Remove("audio"),
        ["audio: not an object"] = Set("audio", 24000),

        // codec.codebooks 1…256; codebookSize 2…65536; their product ≤ 64 × 65536; silenceTokens has `codebooks` entries in [0, codebookSize)
        ["codec.codebooks: 0"] = Set("codec.codebooks", 0),
        ["codec.codebooks: 257"] = Set("codec.codebooks", 257, says: "between 1 and 256"),
        ["codec.codebookSize: 65536 with 65 codebooks"] = Edit(m =>
        {
            JsonPath.Set(m, "codec.codebooks", 65);
            JsonPath.Set(m, "codec.codebookSize", 65536);
        }, "codec.codebookSize", says: "at most 4194304 logits per frame"),
        ["codec.codebookSize: 1"] = Set("codec.codebookSize", 1, says: "between 2 and 65536"),
        ["codec.codebookSize: 65537"] = Set("codec.codebookSize", 65537, says: "between 2 and 65536"),
        ["codec.silenceTokens: too few"] = Set("codec.silenceTokens", Array(0, 0, 0)),
        ["codec.silenceTokens: too many"] = Set("codec.silenceTokens", Array(0, 0, 0, 0, 0)),
        ["codec.silenceTokens: empty"] = Set("codec.silenceTokens", Array()),
        ["codec.silenceTokens[2]: = codebookSize"] = Set("codec.silenceTokens[2]", 256),
        ["codec.silenceTokens[0]: negative"] = Set("codec.silenceTokens[0]", -1),
        ["codec.silenceTokens[3]: a string"] = Set("codec.silenceTokens[3]", "0"),
        ["codec.silenceTokens: not an array"] = Set("codec.silenceTokens", 0),
        ["codec.codebookSize: below a silence token"] = Edit(m =>
        {
            JsonPath.Set(m, "codec.silenceTokens[1]", 200);
            JsonPath.Set(m, "codec.codebookSize", 200);
        }, "codec.silenceTokens[1]"),

        // conditioning.lookaheadFrames 0…256; features non-empty, known names, no repeats
        ["conditioning.lookaheadFrames: -1"] = Set("conditioning.lookaheadFrames", -1),
        ["conditioning.lookaheadFrames: 257"] = Set("conditioning.lookaheadFrames", 257),
        ["conditioning.features: empty"] = Set("conditioning.features", Array()),
        ["conditioning.features[2]: unknown name"] = Set("conditioning.features[2]", "note_sustain", says: "note_sustain"),
        ["conditioning.features[2]: repeats [0]"] = Set("conditioning.features[2]", "note_onset", says: "twice"),
        ["conditioning.features[5]: known name in other case"] = Set("conditioning.features[5]", "Pedal"),
        ["conditioning.features[0]: not a string"] = Set("conditioning.features[0]", 1),
        ["conditioning.features: missing"] = Remove("conditioning.features"),

        // sampling.temperature > 0, topK >= 0, topP in (0, 1]
        ["sampling.temperature: 0"] = Set("sampling.temperature", 0),
        ["sampling.temperature: negative"] = Set("sampling.temperature", -1.0),
        ["sampling.temperature: a string"] = Set("sampling.temperature", "1.0"),
        ["sampling.topK: -1"] = Set("sampling.topK", -1),
        ["sampling.topK: fractional"] = Set("sampling.topK", 2.5),
        ["sampling.topP: 0"] = Set("sampling.topP", 0),
        ["sampling.topP: above 1"] = Set("sampling.topP", 1.01),
        ["sampling.topP: negative"] = Set("sampling.topP", -0.5),

        // lm/decoder.file is a relative path inside the package folder
        ["lm.file: absolute"] = Set("lm.file", "/tmp/lm_step.onnx", says: "relative path"),
        ["lm.file: climbs out"] = Set("lm.file", "../fixture/lm_step.onnx", says: "relative path"),
        ["lm.file: climbs out with backslashes"] = Set("lm.file", "..\\fixture\\lm_step.onnx"),
        ["lm.file: climbs out and back"] = Set("lm.file", "sub/../../pkg/lm_step.onnx"),
        ["lm.file: empty"] = Set("lm.file", ""),
        ["lm.file: missing"] = Remove("lm.file"),
        ["lm.file: no such file"] = Set("lm.file", "lm.onnx", says: "does not exist"),
        ["decoder.file: absolute"] = Set("decoder.file", "/etc/passwd"),
        ["decoder.file: climbs out"] = Set("decoder.file", "../decoder.onnx"),
        ["decoder.file: no such file"] = Set("decoder.file", "codec.onnx", says: "does not exist"),

        // lm: each role appears exactly as listed
        ["lm.inputs: no conditioning"] = Remove("lm.inputs[1]", "lm.inputs", "conditioning"),
        ["lm.inputs: no tokens"] = Remove("lm.inputs[0]", "lm.inputs", "tokens"),
        ["lm.inputs: two tokens"] = Edit(m => m["lm"]!["inputs"]!.AsArray().Add(Tensor("tokens2", "tokens", "int64", "batch", 4)), "lm.inputs", "tokens"),
        ["lm.inputs: empty"] = Set("lm.inputs", Array(), "lm.inputs"),
        ["lm.inputs: not an array"] = Set("lm.inputs", new JsonObject(), "lm.inputs"),
        ["lm.inputs[1].role: audio"] = Set("lm.inputs[1].role", "audio"),
        ["lm.inputs[1].role: logits (an output role)"] = Set("lm.inputs[1].role", "logits"),
        ["lm.inputs[0].role: empty"] = Set("lm.inputs[0].role", ""),
        ["lm.outputs[0].role: tokens"] = Set("lm.outputs[0].role", "tokens"),
        ["lm.outputs: no logits"] = Remove("lm.outputs[0]", "lm.outputs", "logits"),
        ["lm.outputs: two logits"] = Edit(m => m["lm"]!["outputs"]!.AsArray().Add(Tensor("logits2", "logits", "float32", "batch", 4, 256)), "lm.outputs"),
        ["lm.outputs: empty"] = Set("lm.outputs", Array(), "lm.outputs"),
        ["lm: missing"] = Remove("lm"),
        // state pairs: each state input names its output, outputs pair once, shapes and types agree
        ["lm.inputs[2]: state without stateOutput"] = Remove("lm.inputs[2].stateOutput", "lm.inputs[2]", "stateOutput"),
        ["lm.inputs[2].stateOutput: no such output"] = Set("lm.inputs[2].stateOutput", "h_out"),
        ["lm.inputs[2].stateOutput: names the logits"] = Set("lm.inputs[2].stateOutput", "logits"),
        ["lm.inputs[2].stateOutput: empty"] = Set("lm.inputs[2].stateOutput", ""),
        ["lm.inputs[2].stateOutput: shape differs"] = Set("lm.outputs[1].shape[2]", 32, "lm.inputs[2].stateOutput"),
        ["lm.inputs[2].type: int64 state"] = Edit(m =>
        {
            JsonPath.Set(m, "lm.inputs[2].type", "int64");
            JsonPath.Set(m, "lm.outputs[1].type", "int64");
        }, "lm.inputs[2].type"),
        ["lm.outputs: unpaired state output"] = Edit(m => m["lm"]!["outputs"]!.AsArray().Add(Tensor("h_out", "state", "float32", "batch", 8)), "lm.outputs", "h_out"),
        ["lm.inputs[3].stateOutput: shares state_out"] = Edit(m =>
        {
            var second = Tensor("state_in2", "state", "float32", "batch", 2, 64);
            second["stateOutput"] = "state_out";
            m["lm"]!["inputs"]!.AsArray().Add(second);
        }, "lm.inputs[3].stateOutput", "state_out"),
        // names are unique
        ["lm.inputs[1].name: duplicate"] = Set("lm.inputs[1].name", "tokens", says: "twice"),
        ["lm.outputs[1].name: duplicate"] = Edit(m =>
        {
            JsonPath.Set(m, "lm.outputs[1].name", "logits");
            JsonPath.Set(m, "lm.inputs[2].stateOutput", "logits");
        }, "lm.outputs[1].name"),
        ["lm.inputs[0].name: empty"] = Set("lm.inputs[0].name", ""),
        ["lm.inputs[0].name: missing"] = Remove("lm.inputs[0].name"),
        // types
        ["lm.inputs[0].type: float32 tokens"] = Set("lm.inputs[0].type", "float32"),
        ["lm.inputs[1].type: int64 conditioning"] = Set("lm.inputs[1].type", "int64"),
        ["lm.inputs[1].type: float16"] = Set("lm.inputs[1].type", "float16", says: "float16"),
        ["lm.outputs[0].type: int64 logits"] = Set("lm.outputs[0].type", "int64"),
        ["lm.inputs[0].type: missing"] = Remove("lm.inputs[0].type"),
        // shapes: batch first, then numbers that agree with codec, conditioning and decoder fields
        ["lm.inputs[0].shape: K wrong"] = Set("lm.inputs[0].shape[1]", 5, "lm.inputs[0].shape"),
        ["lm.inputs[0].shape: extra dimension"] = Set("lm.inputs[0].shape", Array("batch", 4, 1), "lm.inputs[0].shape"),
        ["lm.inputs[0].shape: empty"] = Set("lm.inputs[0].shape", Array(), "lm.inputs[0].shape"),
        ["lm.inputs[0].shape[0]: other name"] = Set("lm.inputs[0].shape[0]", "b", says: "batch"),
        ["lm.inputs[0].shape[0]: 2"] = Set("lm.inputs[0].shape[0]", 2),
        ["lm.inputs[0].shape[0]: -1"] = Set("lm.inputs[0].shape[0]", -1),
        ["lm.inputs[0].shape[1]: batch"] = Set("lm.inputs[0].shape[1]", "batch"),
        ["lm.inputs[2].shape[1]: 0"] = Edit(m =>
        {
            JsonPath.Set(m, "lm.inputs[2].shape[1]", 0);
            JsonPath.Set(m, "lm.outputs[1].shape[1]", 0);
        }, "lm.inputs[2].shape[1]"),
        ["lm.inputs[1].shape: lookahead wrong"] = Set("lm.inputs[1].shape[1]", 2, "lm.inputs[1].shape"),
        ["lm.inputs[1].shape: C wrong"] = Set("lm.inputs[1].shape[2]", 640, "lm.inputs[1].shape", "641"),
        ["lm.outputs[0].shape: V wrong"] = Set("lm.outputs[0].shape[2]", 255, "lm.outputs[0].shape"),
        ["lm.outputs[0].shape: K and V swapped"] = Set("lm.outputs[0].shape", Array("batch", 256, 4), "lm.outputs[0].shape"),
        ["lm.outputs[0].shape: rank 2"] = Set("lm.outputs[0].shape", Array("batch", 1024), "lm.outputs[0].shape"),
        // ...and the same disagreement reached from the other side: a field the shapes depend on
        ["codec.codebooks changes K"] = Edit(m =>
        {
            JsonPath.Set(m, "codec.codebooks", 5);
            JsonPath.Set(m, "codec.silenceTokens", Array(0, 0, 0, 0, 0));
        }, "lm.inputs[0].shape"),
        ["codec.codebookSize changes V"] = Set("codec.codebookSize", 512, "lm.outputs[0].shape"),
        ["conditioning.lookaheadFrames changes L"] = Set("conditioning.lookaheadFrames", 0, "lm.inputs[1].shape"),
        ["conditioning.features changes C"] = Remove("conditioning.features[5]", "lm.inputs[1].shape", "640"),
        ["conditioning.features adds note_held"] = Edit(m => m["conditioning"]!["features"]!.AsArray().Add("note_held"), "lm.inputs[1].shape", "769"),
        ["audio.hopLength changes the audio length"] = Set("audio.hopLength", 512, "decoder.outputs[0].shape", "6144"),
        ["audio.channels changes the audio shape"] = Set("audio.channels", 2, "decoder.outputs[0].shape"),
        ["decoder.windowFrames changes W"] = Set("decoder.windowFrames", 13, "decoder.inputs[0].shape"),

        // decoder: roles, types, shapes
        ["decoder.inputs[1].role: state"] = Edit(m =>
        {
            var state = Tensor("h", "state", "float32", "batch", 8);
            state["stateOutput"] = "audio";
            m["decoder"]!["inputs"]!.AsArray().Add(state);
        }, "decoder.inputs[1].role"),
        ["decoder.outputs[0].role: logits"] = Set("decoder.outputs[0].role", "logits"),
        ["decoder.inputs: no tokens"] = Set("decoder.inputs", Array(Tensor("x", "conditioning", "float32", "batch", 3, 641)), "decoder.inputs[0].role"),
        ["decoder.inputs: two tokens"] = Edit(m => m["decoder"]!["inputs"]!.AsArray().Add(Tensor("tokens2", "tokens", "int64", "batch", 4, 12)), "decoder.inputs"),
        ["decoder.outputs: empty"] = Set("decoder.outputs", Array(), "decoder.outputs"),
        ["decoder.inputs[0].type: float32 tokens"] = Set("decoder.inputs[0].type", "float32"),
        ["decoder.outputs[0].type: int64 audio"] = Set("decoder.outputs[0].type", "int64"),
        ["decoder.inputs[0].shape: W wrong"] = Set("decoder.inputs[0].shape[2]", 11, "decoder.inputs[0].shape"),
        ["decoder.inputs[0].shape: K wrong"] = Set("decoder.inputs[0].shape[1]", 3, "decoder.inputs[0].shape"),
        ["decoder.outputs[0].shape: length wrong"] = Set("decoder.outputs[0].shape[2]", 5280, "decoder.outputs[0].shape"),
        ["decoder.outputs[0].shape: channels wrong"] = Set("decoder.outputs[0].shape[1]", 2, "decoder.outputs[0].shape"),
        ["decoder: missing"] = Remove("decoder"),

        // decoder: 1 <= chunkFrames, 0 <= overlapFrames <= chunkFrames, chunkFrames + overlapFrames <= windowFrames
        ["decoder.chunkFrames: 0"] = Set("decoder.chunkFrames", 0),
        ["decoder.chunkFrames: above windowFrames"] = Set("decoder.chunkFrames", 13),
        ["decoder.chunkFrames: missing"] = Remove("decoder.chunkFrames"),
        ["decoder.overlapFrames: -1"] = Set("decoder.overlapFrames", -1),
        ["decoder.overlapFrames: above chunkFrames"] = Edit(m =>
        {
            JsonPath.Set(m, "decoder.chunkFrames", 4);
            JsonPath.Set(m, "decoder.overlapFrames", 5);
        }, "decoder.overlapFrames"),
        ["decoder.overlapFrames: chunk + overlap above window"] = Set("decoder.overlapFrames", 5, says: "windowFrames"),
        ["decoder.windowFrames: 0"] = Set("decoder.windowFrames", 0),
        ["decoder.windowFrames: missing"] = Remove("decoder.windowFrames"),
    };

    public static TheoryData<string> FieldCaseNames() => new(FieldCases.Keys);

    [Theory]
    [MemberData(nameof(FieldCaseNames))]
    public void BrokenFieldIsRefusedNamingManifestAndField(string name)
    {
        var c = FieldCases[name];
        using var copy = new PackageCopy();
        c.Break(copy.Manifest);
        var e = copy.Refused();
        Assert.Equal(copy.ManifestPath, e.File);
        Assert.Equal(c.Field, e.Field);
        AssertOneLineNaming(e);
        if (c.MessageContains is not null) Assert.Contains(c.MessageContains, e.Message);
    }

    /// <summary>The edges of each rule that are allowed must load (with ONNX files that still agree).</summary>
    public static TheoryData<string, string> AcceptedEdges() => new()
    {
        { "audio.sampleRate", "8000" },
        { "audio.sampleRate", "192000" },
        { "codec.silenceTokens", "[255, 0, 17, 255]" },
        { "conditioning.features", "[\"pedal\", \"note_age\", \"note_velocity\", \"note_sounding\", \"onset_offset\", \"note_onset\"]" },
        { "sampling.temperature", "0.01" },
        { "sampling.topK", "0" },
        { "sampling.topK", "256" },
        { "sampling.topP", "1" },
        { "sampling.topP", "0.001" },
        { "decoder.overlapFrames", "0" },
        { "decoder.overlapFrames", "4" },
        { "lm.inputs[0].shape[0]", "1" },
        { "decoder.outputs[0].shape[0]", "1" },
        { "lm.file", "\"./lm_step.onnx\"" },
        { "untrained", "false" },
        { "description", "\"\"" },
    };

    [Theory]
    [MemberData(nameof(AcceptedEdges))]
    public void AllowedEdgeLoads(string path, string json)
    {
        using var copy = new PackageCopy();
        JsonPath.Set(copy.Manifest, path, JsonNode.Parse(json));
        using var package = copy.Load();
        Assert.NotNull(package.Manifest);
    }

    [Fact]
    public void OptionalFieldsMayBeLeftOut()
    {
        using var copy = new PackageCopy();
        foreach (var field in new[] { "description", "untrained", "sources", "sampling" }) JsonPath.Remove(copy.Manifest, field);
        using var package = copy.Load();
        Assert.Equal(SamplingSettings.Default, package.Manifest.Sampling);
        Assert.False(package.Manifest.Untrained);
        Assert.Empty(package.Manifest.Sources);
        Assert.Equal("", package.Manifest.Description);
    }

    [Fact]
    public void ChunkEqualToWindowWithoutOverlapLoads()
    {
        using var copy = new PackageCopy();
        JsonPath.Set(copy.Manifest, "decoder.chunkFrames", 12);
        JsonPath.Set(copy.Manifest, "decoder.overlapFrames", 0);
        using var package = copy.Load();
        Assert.Equal(0, package.Manifest.Decoder.LeftContextFrames);
    }

    // ---------------------------------------------------------------- manifest vs ONNX

    [Fact]
    public void DeclaredNameMissingFromOnnxIsRefusedNamingTheOnnxFile()
    {
        using var copy = new PackageCopy();
        JsonPath.Set(copy.Manifest, "decoder.inputs[0].name", "codes");
        var e = copy.Refused();
        Assert.Equal(copy.DecoderPath, e.File);
        Assert.Equal("decoder.inputs[0]", e.Field);
        Assert.Contains("codes", e.Message);
        AssertOneLineNaming(e);
    }

    [Fact]
    public void RenamedStatePairIsRefusedNamingTheOnnxFile()
    {
        using var copy = new PackageCopy();
        JsonPath.Set(copy.Manifest, "lm.inputs[2].name", "h_in");
        JsonPath.Set(copy.Manifest, "lm.inputs[2].stateOutput", "h_out");
        JsonPath.Set(copy.Manifest, "lm.outputs[1].name", "h_out");
        var e = copy.Refused();
        Assert.Equal(copy.LmPath, e.File);
        Assert.Equal("lm.inputs[2]", e.Field);
        Assert.Contains("h_in", e.Message);
        AssertOneLineNaming(e);
    }

    [Fact]
    public void StateShapeDisagreeingWithOnnxIsRefusedNamingTheOnnxFile()
    {
        // A state's shape is the model's own business as far as the manifest is concerned; only the ONNX file can refute it.
        using var copy = new PackageCopy();
        JsonPath.Set(copy.Manifest, "lm.inputs[2].shape[2]", 32);
        JsonPath.Set(copy.Manifest, "lm.outputs[1].shape[2]", 32);
        var e = copy.Refused();
        Assert.Equal(copy.LmPath, e.File);
        Assert.Equal("lm.inputs[2]", e.Field);
        Assert.Contains("[batch, 2, 64]", e.Message);
        AssertOneLineNaming(e);
    }

    [Fact]
    public void UndeclaredOnnxInputIsRefusedNamingTheOnnxFile()
    {
        using var copy = new PackageCopy();
        JsonPath.Remove(copy.Manifest, "lm.inputs[2]");
        JsonPath.Remove(copy.Manifest, "lm.outputs[1]");
        var e = copy.Refused();
        Assert.Equal(copy.LmPath, e.File);
        Assert.Equal("lm.inputs", e.Field);
        Assert.Contains("state_in", e.Message);
        AssertOneLineNaming(e);
    }

    [Fact]
    public void SwappedOnnxFilesAreRefusedNamingTheOnnxFile()
    {
        using var copy = new PackageCopy();
        JsonPath.Set(copy.Manifest, "lm.file", "decoder.onnx");
        var e = copy.Refused();
        Assert.Equal(copy.DecoderPath, e.File);
        Assert.StartsWith("lm.inputs[", e.Field);
        AssertOneLineNaming(e);
    }

    // Decoders written by OnnxTestModel, to reach what the fixture's files cannot: other element types, dimensions, extra tensors.

    static Tensor Tokens(ElementType type = ElementType.Int64, params object?[] dims) =>
        new("tokens", type, dims.Length == 0 ? ["batch", 4L, 12L] : dims);

    static Tensor Audio(ElementType type = ElementType.Float, params object?[] dims) =>
        new("audio", type, dims.Length == 0 ? ["batch", 1L, 5760L] : dims);

    public static TheoryData<string> RefusedDecoders() => new(s_refusedDecoders.Keys);

    static readonly Dictionary<string, (Tensor[] Inputs, Tensor[] Outputs, string Field, string Says)> s_refusedDecoders = new()
    {
        ["tokens are int32"] = ([Tokens(ElementType.Int32)], [Audio()], "decoder.inputs[0]", "Int32"),
        ["audio is double"] = ([Tokens()], [Audio(ElementType.Double)], "decoder.outputs[0]", "Double"),
        ["window is 10 frames"] = ([Tokens(ElementType.Int64, "batch", 4L, 10L)], [Audio()], "decoder.inputs[0]", "[batch, 4, 10]"),
        ["rank 2 tokens"] = ([Tokens(ElementType.Int64, "batch", 48L)], [Audio()], "decoder.inputs[0]", "shape"),
        ["batch of 2"] = ([Tokens(ElementType.Int64, 2L, 4L, 12L)], [Audio()], "decoder.inputs[0]", "shape"),
        ["symbolic window"] = ([Tokens(ElementType.Int64, "batch", 4L, "frames")], [Audio()], "decoder.inputs[0]", "frames"),
        ["unknown audio length"] = ([Tokens()], [Audio(ElementType.Float, "batch", 1L, null)], "decoder.outputs[0]", "shape"),
        ["undeclared input"] = ([Tokens(), new("speaker", ElementType.Float, "batch", 16L)], [Audio()], "decoder.inputs", "speaker"),
        ["undeclared output"] = ([Tokens()], [Audio(), new("level", ElementType.Float, "batch", 1L)], "decoder.outputs", "level"),
        ["no audio output"] = ([Tokens()], [new("wave", ElementType.Float, "batch", 1L, 5760L)], "decoder.outputs[0]", "audio"),
    };

    [Theory]
    [MemberData(nameof(RefusedDecoders))]
    public void OnnxDecoderDisagreeingWithManifestIsRefusedNamingTheOnnxFile(string name)
    {
        var (inputs, outputs, field, says) = s_refusedDecoders[name];
        using var copy = new PackageCopy();
        OnnxTestModel.Write(copy.DecoderPath, inputs, outputs);
        var e = copy.RefusedAsIs();
        Assert.Equal(copy.DecoderPath, e.File);
        Assert.Equal(field, e.Field);
        Assert.Contains(says, e.Message);
        AssertOneLineNaming(e);
    }

    public static TheoryData<string> BatchDimensions() => new() { "batch", "N", "1", "unknown" };

    [Theory]
    [MemberData(nameof(BatchDimensions))]
    public void OnnxBatchMayBeSymbolicUnknownOrOne(string batch)
    {
        object? dim = batch switch { "1" => 1L, "unknown" => null, _ => batch };
        using var copy = new PackageCopy();
        OnnxTestModel.Write(copy.DecoderPath, [Tokens(ElementType.Int64, dim, 4L, 12L)], [Audio(ElementType.Float, dim, 1L, 5760L)]);
        using var package = ModelPackage.Load(copy.Dir);
        Assert.Equal(batch == "1" ? 1 : -1, package.Decoder.Inputs[0].Shape[0]);
    }

    // ---------------------------------------------------------------- unreadable packages

    [Fact]
    public void MissingFolderIsRefused()
    {
        using var temp = new TempDirectory();
        var dir = temp.File("no-such-model");
        var e = PackageCopy.RefusedToLoad(dir);
        Assert.Equal(dir, e.File);
        Assert.Equal("", e.Field);
        Assert.Contains("no such model package folder", e.Message);
        AssertOneLineNaming(e);
    }

    [Fact]
    public void FileInsteadOfFolderIsRefused()
    {
        using var copy = new PackageCopy();
        var e = PackageCopy.RefusedToLoad(copy.ManifestPath);
        Assert.Equal(copy.ManifestPath, e.File);
        AssertOneLineNaming(e);
    }

    [Fact]
    public void MissingManifestIsRefused()
    {
        using var copy = new PackageCopy();
        File.Delete(copy.ManifestPath);
        var e = copy.RefusedAsIs();
        Assert.Equal(copy.ManifestPath, e.File);
        Assert.Equal("", e.Field);
        Assert.Contains("not found", e.Message);
        AssertOneLineNaming(e);
    }

    [Theory]
    [InlineData("lm_step.onnx", "lm.file")]
    [InlineData("decoder.onnx", "decoder.file")]
    public void MissingOnnxFileIsRefusedNamingTheManifestField(string file, string field)
    {
        using var copy = new PackageCopy();
        File.Delete(Path.Combine(copy.Dir, file));
        var e = copy.RefusedAsIs();
        Assert.Equal(copy.ManifestPath, e.File);
        Assert.Equal(field, e.Field);
        Assert.Contains(file, e.Message);
        Assert.Contains("does not exist", e.Message);
        AssertOneLineNaming(e);
    }

    public static TheoryData<string, string> UnreadableOnnxFiles() => new()
    {
        { "lm_step.onnx", "random bytes" },
        { "decoder.onnx", "random bytes" },
        { "decoder.onnx", "truncated" },
        { "lm_step.onnx", "truncated" },
        { "decoder.onnx", "text" },
    };

    [Theory]
    [MemberData(nameof(UnreadableOnnxFiles))]
    public void UnreadableOnnxFileIsRefusedNamingIt(string file, string damage)
    {
        using var copy = new PackageCopy();
        var path = Path.Combine(copy.Dir, file);
        var original = File.ReadAllBytes(path);
        File.WriteAllBytes(path, damage switch
        {
            "random bytes" => RandomBytes(original.Length, seed: file.Length),
            "truncated" => original[..(original.Length / 3)],
            "empty" => [],
            _ => "this is not a model\n"u8.ToArray(),
        });
        var e = copy.RefusedAsIs();
        Assert.Equal(path, e.File);
        Assert.Equal("", e.Field);
        Assert.Contains("ONNX Runtime cannot load it", e.Message);
        AssertOneLineNaming(e);
    }

    public static TheoryData<string> UnreadableManifests() => new() { "truncated", "random bytes", "text", "empty", "array", "null", "BOM and garbage" };

    [Theory]
    [MemberData(nameof(UnreadableManifests))]
    public void UnreadableManifestIsRefused(string damage)
    {
        using var copy = new PackageCopy();
        var original = File.ReadAllBytes(copy.ManifestPath);
        File.WriteAllBytes(copy.ManifestPath, damage switch
        {
            "truncated" => original[..(original.Length / 2)],
            "random bytes" => RandomBytes(600, seed: 3),
            "text" => "format = sostenuto-model"u8.ToArray(),
            "empty" => [],
            "array" => "[]"u8.ToArray(),
            "null" => "null"u8.ToArray(),
            _ => [0xEF, 0xBB, 0xBF, .. "{ format"u8],
        });
        var e = copy.RefusedAsIs();
        Assert.Equal(copy.ManifestPath, e.File);
        Assert.Equal("", e.Field);
        // Random bytes are checked as UTF-8 before they are parsed as JSON (issue 19: invalid UTF-8 used to crash the CLI).
        Assert.Contains(damage switch { "array" or "null" => "must be an object", "random bytes" => "not valid UTF-8", _ => "not valid JSON" }, e.Message);
        AssertOneLineNaming(e);
    }

    [Fact]
    public void TruncatedManifestMessageSaysWhere()
    {
        using var copy = new PackageCopy();
        var original = File.ReadAllBytes(copy.ManifestPath);
        File.WriteAllBytes(copy.ManifestPath, original[..(original.Length / 2)]);
        var e = copy.RefusedAsIs();
        Assert.Matches(@"not valid JSON \(line \d+, byte \d+\)", e.Message);
    }

    // ---------------------------------------------------------------- engine bugs found by these tests (see the report)

    [Fact]
    public void ManifestWithTrailingGarbageIsRefused()
    {
        // A complete manifest followed by anything else is not a JSON document (e.g. a botched merge
        // that left two manifests in one file). The engine must not silently read the first one.
        using var copy = new PackageCopy();
        copy.Save();
        File.AppendAllText(copy.ManifestPath, "\n{ \"format\": \"sostenuto-model\", \"formatVersion\": 2 }\n");
        var e = copy.RefusedAsIs();
        Assert.Equal(copy.ManifestPath, e.File);
        Assert.Contains("not valid JSON", e.Message);
        AssertOneLineNaming(e);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("\"greedy\"")]
    [InlineData("[0.7, 40, 0.9]")]
    [InlineData("null")]
    public void SamplingThatIsNotAnObjectIsRefused(string json)
    {
        using var copy = new PackageCopy();
        JsonPath.Set(copy.Manifest, "sampling", JsonNode.Parse(json));
        var e = copy.Refused();
        Assert.Equal(copy.ManifestPath, e.File);
        Assert.Equal("sampling", e.Field);
        AssertOneLineNaming(e);
    }

    [Fact]
    public void NonJsonManifestOverSeveralLinesIsRefusedInOneLine()
    {
        using var copy = new PackageCopy();
        File.WriteAllText(copy.ManifestPath, "format: sostenuto-model\nformatVersion: 1\n");
        var e = copy.RefusedAsIs();
        Assert.Contains("not valid JSON", e.Message);
        AssertOneLineNaming(e);
    }

    [Fact]
    public void EmptyOnnxFileIsRefusedInOneLine()
    {
        using var copy = new PackageCopy();
        File.WriteAllBytes(copy.DecoderPath, []);
        var e = copy.RefusedAsIs();
        Assert.Equal(copy.DecoderPath, e.File);
        Assert.Contains("ONNX Runtime cannot load it", e.Message);
        AssertOneLineNaming(e);
    }

    // ---------------------------------------------------------------- helpers

    internal static void AssertOneLineNaming(ModelPackageException e)
    {
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        var prefix = e.Field.Length == 0 ? $"{e.File}: " : $"{e.File}: {e.Field}: ";
        Assert.StartsWith(prefix, e.Message);
        Assert.True(e.Message.Length > prefix.Length + 3, $"no problem stated: {e.Message}");
    }

    internal static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
