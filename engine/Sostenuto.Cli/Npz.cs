using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace Sostenuto.Cli;

/// <summary>
/// NumPy's .npz (a zip of .npy arrays), as much of it as <c>onnx-run</c> exchanges with Python:
/// little-endian float32 and int64 arrays in C order. numpy writes them with <c>np.savez</c> and
/// reads ours with <c>np.load</c>; the format is numpy's NEP 1 (.npy versions 1.0 to 3.0).
/// </summary>
static partial class Npz
{
    /// <summary>One array: its elements (float[] or long[]) and its shape.</summary>
    public sealed record Array(System.Array Data, long[] Shape);

    static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static Dictionary<string, Array> Read(string path)
    {
        var arrays = new Dictionary<string, Array>();
        using var zip = ZipFile.OpenRead(path);
        foreach (var entry in zip.Entries)
        {
            if (!entry.Name.EndsWith(".npy", StringComparison.Ordinal)) continue;
            using var stream = entry.Open();
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            arrays[entry.Name[..^4]] = ReadNpy(memory.ToArray(), $"{path}: {entry.Name}");
        }
        return arrays;
    }

    /// <summary>Writes <paramref name="arrays"/> (float[] or long[] data) as an uncompressed .npz.</summary>
    public static void Write(string path, IEnumerable<(string Name, Array Value)> arrays)
    {
        using var file = File.Create(path);
        using var zip = new ZipArchive(file, ZipArchiveMode.Create);
        foreach (var (name, value) in arrays)
        {
            using var stream = zip.CreateEntry(name + ".npy", CompressionLevel.NoCompression).Open();
            WriteNpy(stream, value);
        }
    }

    static Array ReadNpy(byte[] bytes, string where)
    {
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic)) throw new InvalidDataException($"{where}: not a .npy array");
        int major = bytes[6];
        int headerLength = major == 1 ? BitConverter.ToUInt16(bytes, 8) : (int)BitConverter.ToUInt32(bytes, 8);
        int headerStart = major == 1 ? 10 : 12;
        string header = Encoding.Latin1.GetString(bytes, headerStart, headerLength);
        var descr = DescrPattern().Match(header).Groups[1].Value;
        if (FortranPattern().IsMatch(header)) throw new InvalidDataException($"{where}: Fortran-order arrays are not supported (use np.ascontiguousarray)");
        var shapeText = ShapePattern().Match(header).Groups[1].Value;
        long[] shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var data = bytes.AsSpan(headerStart + headerLength);
        System.Array values = descr switch
        {
            "<f4" => MemoryMarshal.Cast<byte, float>(data[..checked((int)(count * 4))]).ToArray(),
            "<i8" => MemoryMarshal.Cast<byte, long>(data[..checked((int)(count * 8))]).ToArray(),
            _ => throw new InvalidDataException($"{where}: dtype {descr} is not supported (float32 or int64)"),
        };
        return new Array(values, shape);
    }

    static void WriteNpy(Stream stream, Array value)
    {
        string descr = value.Data is float[] ? "<f4" : value.Data is long[] ? "<i8" : throw new ArgumentException("float[] or long[] only");
        string shape = value.Shape.Length == 1 ? $"({value.Shape[0]},)" : $"({string.Join(", ", value.Shape)})";
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        // Version 1.0: magic, 2 version bytes, 2 length bytes, header padded with spaces to a
        // multiple of 64 bytes and ended by a newline.
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - total % 64) % 64) + "\n";
        stream.Write(Magic);
        stream.Write([1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.Latin1.GetBytes(header));
        var bytes = value.Data is float[] f ? MemoryMarshal.AsBytes(f.AsSpan()) : MemoryMarshal.AsBytes(((long[])value.Data).AsSpan());
        stream.Write(bytes);
    }

    [GeneratedRegex(@"'descr':\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order':\s*True")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
