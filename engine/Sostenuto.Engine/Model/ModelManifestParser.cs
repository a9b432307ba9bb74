using System.Text.Json;

namespace Sostenuto.Engine.Model;

/// <summary>
/// Reads <c>model.json</c> and checks every rule of docs/model-format.md that can be checked
/// without opening the ONNX files. The first broken rule is reported with its field path.
/// </summary>
public static class ModelManifestParser
{
    public const string FormatName = "sostenuto-model";
    public const int FormatVersion = 1;
    const int MaxManifestBytes = 1 << 20;
    // A codec may have many narrow codebooks (a band-local codec has one per band of oscillators),
    // but the LM's logits, codebooks × codebookSize floats per stream and frame, stay bounded as
    // they were when codebooks were at most 64 of at most 65536 codes.
    const int MaxCodebooks = 256;
    const long MaxLogitsPerFrame = 64L * 65536;

    public static ModelManifest Read(string manifestPath)
    {
        byte[] bytes;
        try
        {
            if (IO.UnixFile.LinkStatus(manifestPath) is null)
                throw new ModelPackageException(manifestPath, "", "not found (a model package is a folder holding model.json)");
            // A regular file inside the package folder, at most 1 MiB measured on the open handle (docs/model-format.md).
            bytes = IO.UnixFile.ReadAllBytes(manifestPath, MaxManifestBytes, within: Path.GetDirectoryName(Path.GetFullPath(manifestPath)));
        }
        catch (IO.UnixFileException e) { throw new ModelPackageException(manifestPath, "", e.Reason, e); }
        catch (IOException e) { throw new ModelPackageException(manifestPath, "", e.Message, e); }
        catch (UnauthorizedAccessException e) { throw new ModelPackageException(manifestPath, "", e.Message, e); }
        return Parse(bytes, manifestPath);
    }

    public static ModelManifest Parse(ReadOnlySpan<byte> json, string fileName)
    {
        // The JSON reader checks UTF-8 only where it decodes a string, and then throws what is not a JsonException.
        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            System.Text.Unicode.Utf8.ToUtf16(json, new char[json.Length], out int validBytes, out _, replaceInvalidSequences: false);
            throw new ModelPackageException(fileName, "", $"not valid UTF-8 (byte {validBytes + 1})");
        }
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            document = JsonDocument.ParseValue(ref reader);
            if (reader.Read()) // ParseValue stops after one value; anything after it is a broken file, not a comment
            {
                document.Dispose();
                throw new ModelPackageException(fileName, "", $"unexpected content after the manifest object (byte {reader.TokenStartIndex + 1})");
            }
        }
        catch (JsonException e)
        {
            throw new ModelPackageException(fileName, "", $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message}", e);
        }
        using (document)
        {
            var root = new Field(fileName, "", document.RootElement);
            return ParseRoot(root);
        }
    }

    static ModelManifest ParseRoot(Field root)
    {
        root.RequireObject();
        var format = root["format"].String();
        if (format != FormatName) root["format"].Fail($"must be \"{FormatName}\", not \"{format}\"");
        var version = root["formatVersion"].Int(1, int.MaxValue);
        if (version != FormatVersion) root["formatVersion"].Fail($"this engine reads version {FormatVersion}, the package is version {version}");

        var audio = root["audio"];
        int sampleRate = audio["sampleRate"].Int(8000, 192000);
        int channels = audio["channels"].Int(1, 2);
        int hop = audio["hopLength"].Int(1, 1 << 16);

        var codec = root["codec"];
        int codebooks = codec["codebooks"].Int(1, MaxCodebooks);
        int codebookSize = codec["codebookSize"].Int(2, 65536);
        if ((long)codebooks * codebookSize > MaxLogitsPerFrame)
            codec["codebookSize"].Fail($"codebooks × codebookSize is {(long)codebooks * codebookSize}; at most {MaxLogitsPerFrame} logits per frame");
        var silenceField = codec["silenceTokens"];
        var silence = silenceField.Array().Select(t => t.Int(0, codebookSize - 1)).ToArray();
        if (silence.Length != codebooks) silenceField.Fail($"has {silence.Length} entries; codec.codebooks is {codebooks}");

        var conditioning = root["conditioning"];
        int lookahead = conditioning["lookaheadFrames"].Int(0, 256);
        var featureFields = conditioning["features"].Array();
        if (featureFields.Count == 0) conditioning["features"].Fail("must list at least one feature");
        var features = new List<ConditioningFeature>();
        foreach (var f in featureFields)
        {
            var name = f.String();
            if (!ConditioningFeatures.TryParse(name, out var feature))
                f.Fail($"unknown feature \"{name}\" (known: {string.Join(", ", Enum.GetValues<ConditioningFeature>().Select(ConditioningFeatures.ManifestName))})");
            if (features.Contains(feature)) f.Fail($"\"{name}\" is listed twice");
            features.Add(feature);
        }
        int conditioningSize = features.Sum(ConditioningFeatures.Size);

        var sampling = SamplingSettings.Default;
        if (root.Has("sampling"))
        {
            var s = root["sampling"];
            s.RequireObject();
            sampling = new SamplingSettings(
                s.Has("temperature") ? s["temperature"].Float(1e-6, float.MaxValue) : 1f,
                s.Has("topK") ? s["topK"].Int(0, int.MaxValue) : 0,
                s.Has("topP") ? s["topP"].Float(1e-6, 1) : 1f);
        }

        double? restAfter = null;
        if (root.Has("rest"))
        {
            var r = root["rest"];
            r.RequireObject();
            restAfter = r["afterSeconds"].Float(0.05, 3600);
        }

        var lmField = root["lm"];
        var lm = new NetworkSpec(RelativeFile(lmField["file"]), Tensors(lmField["inputs"]), Tensors(lmField["outputs"]));
        CheckLm(lmField, lm, codebooks, codebookSize, lookahead, conditioningSize);

        var decField = root["decoder"];
        int window = decField["windowFrames"].Int(1, 4096);
        int chunk = decField["chunkFrames"].Int(1, window);
        int overlap = decField["overlapFrames"].Int(0, chunk);
        if (chunk + overlap > window) decField["overlapFrames"].Fail($"chunkFrames + overlapFrames ({chunk + overlap}) exceeds windowFrames ({window})");
        var decoder = new DecoderSpec(RelativeFile(decField["file"]), Tensors(decField["inputs"]), Tensors(decField["outputs"]), window, chunk, overlap);
        CheckDecoder(decField, decoder, codebooks, channels, hop);

        var sources = new List<DataSource>();
        if (root.Has("sources"))
            foreach (var s in root["sources"].Array()) sources.Add(new DataSource(s["name"].String(), s["license"].String()));

        return new ModelManifest
        {
            Name = root["name"].NonEmptyString(),
            Version = root["version"].NonEmptyString(),
            Description = root.Has("description") ? root["description"].String() : "",
            License = root["license"].NonEmptyString(),
            Untrained = root.Has("untrained") && root["untrained"].Bool(),
            Sources = sources,
            SampleRate = sampleRate,
            Channels = channels,
            HopLength = hop,
            Codebooks = codebooks,
            CodebookSize = codebookSize,
            SilenceTokens = silence,
            LookaheadFrames = lookahead,
            Features = features,
            Sampling = sampling,
            RestAfterSeconds = restAfter,
            Lm = lm,
            Decoder = decoder,
        };
    }

    static void CheckLm(Field field, NetworkSpec lm, int k, int v, int lookahead, int c)
    {
        ExpectRoles(field["inputs"], lm.Inputs, [TensorRoles.Tokens, TensorRoles.Conditioning], TensorRoles.State);
        ExpectRoles(field["outputs"], lm.Outputs, [TensorRoles.Logits], TensorRoles.State);
        ExpectTensor(field["inputs"], lm.Inputs, TensorRoles.Tokens, TensorType.Int64, [k]);
        ExpectTensor(field["inputs"], lm.Inputs, TensorRoles.Conditioning, TensorType.Float32, [lookahead + 1, c]);
        ExpectTensor(field["outputs"], lm.Outputs, TensorRoles.Logits, TensorType.Float32, [k, v]);

        var stateOutputs = lm.Outputs.Where(t => t.Role == TensorRoles.State).ToDictionary(t => t.Name);
        var paired = new HashSet<string>();
        for (int i = 0; i < lm.Inputs.Count; i++)
        {
            var input = lm.Inputs[i];
            if (input.Role != TensorRoles.State) continue;
            var at = field["inputs"].At(i);
            if (input.Type != TensorType.Float32) at["type"].Fail("state tensors are float32");
            if (input.StateOutput is null) at.Fail("a state input must name its output in \"stateOutput\"");
            if (!stateOutputs.TryGetValue(input.StateOutput, out var output)) at["stateOutput"].Fail($"no state output named \"{input.StateOutput}\" in lm.outputs");
            if (!paired.Add(output.Name)) at["stateOutput"].Fail($"\"{output.Name}\" is already the output of another state");
            if (output.Type != input.Type || !output.Shape.SequenceEqual(input.Shape))
                at["stateOutput"].Fail($"state output \"{output.Name}\" {output.ShapeText} does not match its input {input.ShapeText}");
        }
        foreach (var output in stateOutputs.Values)
            if (!paired.Contains(output.Name)) field["outputs"].Fail($"state output \"{output.Name}\" is not the stateOutput of any input");
    }

    static void CheckDecoder(Field field, DecoderSpec decoder, int k, int channels, int hop)
    {
        ExpectRoles(field["inputs"], decoder.Inputs, [TensorRoles.Tokens], null);
        ExpectRoles(field["outputs"], decoder.Outputs, [TensorRoles.Audio], null);
        ExpectTensor(field["inputs"], decoder.Inputs, TensorRoles.Tokens, TensorType.Int64, [k, decoder.WindowFrames]);
        ExpectTensor(field["outputs"], decoder.Outputs, TensorRoles.Audio, TensorType.Float32, [channels, (long)decoder.WindowFrames * hop]);
    }

    /// <summary>Each required role exactly once; the optional repeatable role any number of times; nothing else.</summary>
    static void ExpectRoles(Field listField, IReadOnlyList<TensorSpec> tensors, string[] required, string? repeatable)
    {
        for (int i = 0; i < tensors.Count; i++)
        {
            var role = tensors[i].Role;
            if (!required.Contains(role) && role != repeatable)
                listField.At(i)["role"].Fail($"role \"{role}\" does not belong here (expected {string.Join(", ", required.Append(repeatable).OfType<string>())})");
        }
        foreach (var role in required)
        {
            int count = tensors.Count(t => t.Role == role);
            if (count != 1) listField.Fail($"must have exactly one tensor with role \"{role}\" (found {count})");
        }
        var names = new HashSet<string>();
        for (int i = 0; i < tensors.Count; i++)
            if (!names.Add(tensors[i].Name)) listField.At(i)["name"].Fail($"\"{tensors[i].Name}\" is declared twice");
    }

    static void ExpectTensor(Field listField, IReadOnlyList<TensorSpec> tensors, string role, TensorType type, long[] dimsAfterBatch)
    {
        int i = tensors.ToList().FindIndex(t => t.Role == role);
        var tensor = tensors[i];
        var at = listField.At(i);
        if (tensor.Type != type) at["type"].Fail($"a {role} tensor is {TypeName(type)}, not {TypeName(tensor.Type)}");
        var expected = new long[] { TensorSpec.BatchDimension }.Concat(dimsAfterBatch).ToArray();
        bool matches = tensor.Shape.Length == expected.Length && tensor.Shape.Skip(1).SequenceEqual(dimsAfterBatch);
        if (!matches)
            at["shape"].Fail($"is {tensor.ShapeText}; the manifest's other fields make it [batch, {string.Join(", ", dimsAfterBatch)}]");
    }

    static List<TensorSpec> Tensors(Field list)
    {
        var result = new List<TensorSpec>();
        foreach (var t in list.Array())
        {
            var shapeField = t["shape"];
            var dims = shapeField.Array();
            if (dims.Count == 0) shapeField.Fail("must have at least one dimension (the batch)");
            var shape = new long[dims.Count];
            for (int d = 0; d < dims.Count; d++)
            {
                if (d == 0 && dims[d].Element.ValueKind == JsonValueKind.String)
                {
                    if (dims[d].String() != "batch") dims[d].Fail("the only named dimension is \"batch\"");
                    shape[d] = TensorSpec.BatchDimension;
                }
                else if (d == 0)
                {
                    if (dims[d].Int(1, 1) == 1) shape[d] = TensorSpec.BatchDimension; // a fixed batch of 1 behaves like "batch" with one stream
                }
                else shape[d] = dims[d].Int(1, 1 << 24);
            }
            var typeName = t["type"].String();
            TensorType type = typeName switch
            {
                "float32" => TensorType.Float32,
                "int64" => TensorType.Int64,
                _ => t["type"].Fail<TensorType>($"unsupported type \"{typeName}\" (float32 or int64)"),
            };
            result.Add(new TensorSpec(t["name"].NonEmptyString(), t["role"].NonEmptyString(), type, shape,
                t.Has("stateOutput") ? t["stateOutput"].NonEmptyString() : null));
        }
        if (result.Count == 0) list.Fail("must declare at least one tensor");
        return result;
    }

    static string RelativeFile(Field field)
    {
        var path = field.NonEmptyString();
        if (Path.IsPathRooted(path) || path.Split('/', '\\').Contains(".."))
            field.Fail($"\"{path}\" must be a relative path inside the package folder");
        return path;
    }

    public static string TypeName(TensorType type) => type == TensorType.Float32 ? "float32" : "int64";

    /// <summary>A JSON value together with its path, so every complaint can name the field.</summary>
    readonly record struct Field(string File, string Path, JsonElement Element)
    {
        public Field this[string name]
        {
            get
            {
                RequireObject();
                var path = Path.Length == 0 ? name : $"{Path}.{name}";
                if (!Element.TryGetProperty(name, out var child)) throw new ModelPackageException(File, path, "missing");
                return new Field(File, path, child);
            }
        }

        public bool Has(string name) => Element.ValueKind == JsonValueKind.Object && Element.TryGetProperty(name, out _);

        public Field At(int index) => new(File, $"{Path}[{index}]", Element.ValueKind == JsonValueKind.Array ? Element[index] : default);

        public void RequireObject()
        {
            if (Element.ValueKind != JsonValueKind.Object) Fail($"must be an object, not {Describe()}");
        }

        public List<Field> Array()
        {
            if (Element.ValueKind != JsonValueKind.Array) Fail($"must be an array, not {Describe()}");
            var items = new List<Field>();
            for (int i = 0; i < Element.GetArrayLength(); i++) items.Add(At(i));
            return items;
        }

        public string String()
        {
            if (Element.ValueKind != JsonValueKind.String) Fail($"must be a string, not {Describe()}");
            return Element.GetString()!;
        }

        public string NonEmptyString()
        {
            var s = String();
            if (string.IsNullOrWhiteSpace(s)) Fail("must not be empty");
            return s;
        }

        public bool Bool()
        {
            if (Element.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) Fail($"must be true or false, not {Describe()}");
            return Element.GetBoolean();
        }

        public int Int(int min, int max)
        {
            if (Element.ValueKind != JsonValueKind.Number || !Element.TryGetInt64(out long value)) Fail($"must be an integer, not {Describe()}");
            long v = Element.GetInt64();
            if (v < min || v > max) Fail($"must be between {min} and {max} (is {v})");
            return (int)v;
        }

        public float Float(double min, double max)
        {
            if (Element.ValueKind != JsonValueKind.Number) Fail($"must be a number, not {Describe()}");
            double v = Element.GetDouble();
            if (!(v >= min && v <= max)) Fail($"must be between {min} and {max} (is {v})");
            return (float)v;
        }

        string Describe() => Element.ValueKind switch
        {
            JsonValueKind.Undefined => "nothing",
            JsonValueKind.String => $"the string \"{Element.GetString()}\"",
            JsonValueKind.Number => $"the number {Element.GetRawText()}",
            var kind => kind.ToString().ToLowerInvariant(),
        };

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        public void Fail(string problem) => throw new ModelPackageException(File, Path, problem);

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        public T Fail<T>(string problem) => throw new ModelPackageException(File, Path, problem);
    }
}
