using Sostenuto.Engine.Tests.Tools;
using System.Text;
using System.Text.Json.Nodes;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Tests.Model;

/// <summary>
/// <see cref="ModelManifestParser"/> on its own (no ONNX files): what it understands of the fixture's
/// model.json, the optional fields and the JSON it tolerates. The field-by-field refusals are in
/// <see cref="ModelPackageTests"/>, through a whole package.
/// </summary>
public class ModelManifestParserTests
{
    static string FixtureManifestPath => Path.Combine(RepositoryPaths.FixtureModel, ModelPackage.ManifestFileName);

    static JsonObject FixtureJson() => JsonNode.Parse(File.ReadAllText(FixtureManifestPath))!.AsObject();

    static ModelManifest Parse(JsonNode json) => ModelManifestParser.Parse(Encoding.UTF8.GetBytes(json.ToJsonString()), "model.json");

    [Fact]
    public void ReadsEveryFieldOfTheFixture()
    {
        var m = ModelManifestParser.Read(FixtureManifestPath);
        Assert.Equal("sostenuto-fixture", m.Name);
        Assert.Equal("0.1.0", m.Version);
        Assert.Equal("MIT", m.License);
        Assert.True(m.Untrained);
        Assert.StartsWith("Untrained fixture", m.Description);
        Assert.Equal([new DataSource("random weights (seed 1234)", "MIT")], m.Sources);
        Assert.Equal(24000, m.SampleRate);
        Assert.Equal(1, m.Channels);
        Assert.Equal(480, m.HopLength);
        Assert.Equal(4, m.Codebooks);
        Assert.Equal(256, m.CodebookSize);
        Assert.Equal([0, 0, 0, 0], m.SilenceTokens);
        Assert.Equal(2, m.LookaheadFrames);
        Assert.Equal(
            [ConditioningFeature.NoteOnset, ConditioningFeature.OnsetOffset, ConditioningFeature.NoteSounding,
             ConditioningFeature.NoteVelocity, ConditioningFeature.NoteAge, ConditioningFeature.Pedal],
            m.Features);
        Assert.Equal(5 * 128 + 1, m.ConditioningSize);
        Assert.Equal(new SamplingSettings(1f, 0, 1f), m.Sampling);
    }

    [Fact]
    public void ReadsTheTensorDeclarations()
    {
        var m = ModelManifestParser.Read(FixtureManifestPath);
        Assert.Equal("lm_step.onnx", m.Lm.File);
        var tokens = m.Lm.Input(TensorRoles.Tokens);
        Assert.Equal(("tokens", TensorType.Int64), (tokens.Name, tokens.Type));
        Assert.Equal([TensorSpec.BatchDimension, 4], tokens.Shape);
        Assert.Equal("[batch, 4]", tokens.ShapeText);
        Assert.Equal([TensorSpec.BatchDimension, 3, 641], m.Lm.Input(TensorRoles.Conditioning).Shape);
        var state = m.Lm.Input(TensorRoles.State);
        Assert.Equal(("state_in", "state_out"), (state.Name, state.StateOutput));
        Assert.Equal(128, state.ElementsPerItem);
        Assert.Equal([TensorSpec.BatchDimension, 4, 256], m.Lm.Output(TensorRoles.Logits).Shape);

        Assert.Equal("decoder.onnx", m.Decoder.File);
        Assert.Equal((12, 8, 2, 2), (m.Decoder.WindowFrames, m.Decoder.ChunkFrames, m.Decoder.OverlapFrames, m.Decoder.LeftContextFrames));
        Assert.Equal([TensorSpec.BatchDimension, 4, 12], m.Decoder.Input(TensorRoles.Tokens).Shape);
        Assert.Equal([TensorSpec.BatchDimension, 1, 5760], m.Decoder.Output(TensorRoles.Audio).Shape);
    }

    [Fact]
    public void TheDocumentsExampleIsTheFixtureManifest()
    {
        // docs/model-format.md shows model.json in full; it must be what the fixture ships.
        var doc = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", "model-format.md"));
        int start = doc.IndexOf("```json\n", StringComparison.Ordinal) + "```json\n".Length;
        int end = doc.IndexOf("```", start, StringComparison.Ordinal);
        var fromDoc = JsonNode.Parse(doc[start..end])!;
        Assert.True(JsonNode.DeepEquals(FixtureJson(), fromDoc), "the example in docs/model-format.md differs from models/fixture/model.json");
        Assert.Equal(ModelManifestParser.Read(FixtureManifestPath).ConditioningSize, Parse(fromDoc).ConditioningSize);
    }

    [Fact]
    public void FixedBatchOfOneReadsAsBatch()
    {
        var json = FixtureJson();
        JsonPath.Set(json, "lm.inputs[0].shape[0]", 1);
        Assert.Equal(TensorSpec.BatchDimension, Parse(json).Lm.Input(TensorRoles.Tokens).Shape[0]);
    }

    [Fact]
    public void PartialSamplingTakesDefaultsForTheRest()
    {
        var json = FixtureJson();
        json["sampling"] = new JsonObject { ["topK"] = 40 };
        Assert.Equal(new SamplingSettings(1f, 40, 1f), Parse(json).Sampling);
    }

    [Fact]
    public void CommentsAndTrailingCommasAreTolerated()
    {
        var text = File.ReadAllText(FixtureManifestPath)
            .Replace("\"format\": \"sostenuto-model\",", "// a comment\n  \"format\": \"sostenuto-model\", /* another */")
            .Replace("\"silenceTokens\": [0, 0, 0, 0]", "\"silenceTokens\": [0, 0, 0, 0,]");
        Assert.Contains("// a comment", text);
        var m = ModelManifestParser.Parse(Encoding.UTF8.GetBytes(text), "model.json");
        Assert.Equal(4, m.SilenceTokens.Count);
    }

    [Fact]
    public void ParseNamesTheFileItIsGiven()
    {
        var json = FixtureJson();
        json["codec"]!["codebookSize"] = 1;
        var e = Assert.Throws<ModelPackageException>(() => ModelManifestParser.Parse(Encoding.UTF8.GetBytes(json.ToJsonString()), "models/x/model.json"));
        Assert.Equal("models/x/model.json: codec.codebookSize: must be between 2 and 65536 (is 1)", e.Message);
        Assert.Equal(("models/x/model.json", "codec.codebookSize"), (e.File, e.Field));
    }

    [Fact]
    public void FirstBrokenRuleIsReported()
    {
        // Two broken fields: the report names one of them, completely, rather than a mixture.
        var json = FixtureJson();
        json["audio"]!["channels"] = 5;
        json["decoder"]!["overlapFrames"] = 99;
        var e = Assert.Throws<ModelPackageException>(() => Parse(json));
        Assert.Equal("audio.channels", e.Field);
    }

    [Fact]
    public void MissingFileIsRefused()
    {
        using var temp = new TempDirectory();
        var path = temp.File("model.json");
        var e = Assert.Throws<ModelPackageException>(() => ModelManifestParser.Read(path));
        Assert.Equal(path, e.File);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void OversizedFileIsRefusedWithoutParsing()
    {
        using var temp = new TempDirectory();
        var path = temp.File("model.json");
        File.WriteAllText(path, File.ReadAllText(FixtureManifestPath) + new string(' ', 1 << 20));
        var e = Assert.Throws<ModelPackageException>(() => ModelManifestParser.Read(path));
        Assert.Contains("too large", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("sampling.topK", "1000")]
    [InlineData("sampling.temperature", "150")]
    public void DocumentedSamplingValuesAreAccepted(string path, string json)
    {
        var manifest = FixtureJson();
        JsonPath.Set(manifest, path, JsonNode.Parse(json));
        Parse(manifest);
    }
}
