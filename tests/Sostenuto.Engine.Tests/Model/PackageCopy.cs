using Sostenuto.Engine.Tests.Tools;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Tests.Model;

/// <summary>
/// A private copy of models/fixture in a temporary folder, with its model.json open for editing as a
/// <see cref="JsonObject"/>. Tests break the copy, then load it through the real <see cref="ModelPackage"/>
/// (real ONNX Runtime sessions).
/// </summary>
public sealed class PackageCopy : IDisposable
{
    static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };
    readonly TempDirectory _temp = new("sostenuto-package");

    public PackageCopy()
    {
        Dir = Path.Combine(_temp.Path, "pkg");
        Directory.CreateDirectory(Dir);
        foreach (var file in Directory.GetFiles(RepositoryPaths.FixtureModel))
            File.Copy(file, Path.Combine(Dir, Path.GetFileName(file)));
        Manifest = JsonNode.Parse(File.ReadAllText(ManifestPath))!.AsObject();
    }

    /// <summary>The package folder.</summary>
    public string Dir { get; }

    /// <summary>The folder holding <see cref="Dir"/>: a scratch place outside the package.</summary>
    public string Scratch => _temp.Path;

    public string ManifestPath => Path.Combine(Dir, ModelPackage.ManifestFileName);

    public string LmPath => Path.Combine(Dir, "lm_step.onnx");

    public string DecoderPath => Path.Combine(Dir, "decoder.onnx");

    /// <summary>The manifest being edited; written back by <see cref="Save"/>, <see cref="Load"/> and <see cref="Refused"/>.</summary>
    public JsonObject Manifest { get; }

    public void Save() => File.WriteAllText(ManifestPath, Manifest.ToJsonString(s_indented));

    /// <summary>Saves the manifest and loads the package.</summary>
    public ModelPackage Load()
    {
        Save();
        return ModelPackage.Load(Dir);
    }

    /// <summary>Saves the manifest and asserts that loading is refused; returns the exception.</summary>
    public ModelPackageException Refused()
    {
        Save();
        return RefusedAsIs();
    }

    /// <summary>Asserts that loading the folder as it is on disk (manifest not rewritten) is refused.</summary>
    public ModelPackageException RefusedAsIs() => RefusedToLoad(Dir);

    public static ModelPackageException RefusedToLoad(string dir)
    {
        ModelPackage? loaded = null;
        var e = Assert.Throws<ModelPackageException>(() => loaded = ModelPackage.Load(dir));
        loaded?.Dispose();
        return e;
    }

    public void Dispose() => _temp.Dispose();
}

/// <summary>Edits a <see cref="JsonNode"/> tree at a field path in the manifest's own notation, e.g. <c>lm.inputs[1].shape[0]</c>.</summary>
public static class JsonPath
{
    public static void Set(JsonNode root, string path, JsonNode? value)
    {
        var (parent, last) = Parent(root, path);
        if (last is int index) parent.AsArray()[index] = value;
        else parent.AsObject()[(string)last] = value;
    }

    public static void Remove(JsonNode root, string path)
    {
        var (parent, last) = Parent(root, path);
        if (last is int index) parent.AsArray().RemoveAt(index);
        else Assert.True(parent.AsObject().Remove((string)last), $"{path} is not in the manifest");
    }

    public static JsonNode Get(JsonNode root, string path)
    {
        var (parent, last) = Parent(root, path);
        var node = last is int index ? parent.AsArray()[index] : parent.AsObject()[(string)last];
        return node ?? throw new ArgumentException($"{path} is null or missing");
    }

    static (JsonNode Parent, object Last) Parent(JsonNode root, string path)
    {
        var segments = Segments(path);
        var node = root;
        foreach (var segment in segments.Take(segments.Count - 1))
            node = (segment is int i ? node.AsArray()[i] : node.AsObject()[(string)segment])
                ?? throw new ArgumentException($"{path}: {segment} is missing");
        return (node, segments[^1]);
    }

    static List<object> Segments(string path)
    {
        var result = new List<object>();
        foreach (var part in path.Split('.'))
        {
            int bracket = part.IndexOf('[');
            result.Add(bracket < 0 ? part : part[..bracket]);
            while (bracket >= 0)
            {
                int close = part.IndexOf(']', bracket);
                result.Add(int.Parse(part[(bracket + 1)..close]));
                bracket = part.IndexOf('[', close);
            }
        }
        return result;
    }
}
