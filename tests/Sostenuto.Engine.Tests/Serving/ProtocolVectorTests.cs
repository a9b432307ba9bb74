using System.Buffers;
using System.Globalization;
using Sostenuto.Engine.Serving;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Serving;

/// <summary>
/// The byte-level examples in tests/protocol-vectors are shared with the C++ bridge's tests: both
/// sides decode every vector, re-encode the good ones to the same bytes and refuse the bad ones
/// with the same error name.
/// </summary>
public sealed class ProtocolVectorTests
{
    static string VectorDirectory => Path.Combine(RepositoryPaths.Root, "tests", "protocol-vectors");

    internal static string[] VectorNames() => Directory.GetFiles(VectorDirectory, "*.hex").Order().Select(p => Path.GetFileName(p)!).ToArray();

    public static TheoryData<string> Vectors() => new(VectorNames());

    [Theory]
    [MemberData(nameof(Vectors))]
    public void DecodesAsTheVectorExpects(string name)
    {
        var (bytes, expect) = Load(name);
        if (expect == "ok")
        {
            var message = ProtocolCodec.DecodeFrame(bytes);
            Assert.Equal(Convert.ToHexString(bytes), Convert.ToHexString(ProtocolCodec.Encode(message)));
        }
        else
        {
            var error = Assert.Throws<ProtocolException>(() => ProtocolCodec.DecodeFrame(bytes));
            Assert.Equal(expect, "error " + ProtocolException.SnakeCase(error.Error));
        }
    }

    [Fact]
    public void TheStreamReaderTakesFramesFedOneByteAtATime()
    {
        var stream = VectorNames().Select(Load).Where(v => v.Expect == "ok").SelectMany(v => v.Bytes).ToArray();
        var pending = new List<byte>();
        int frames = 0;
        foreach (byte b in stream)
        {
            pending.Add(b);
            var buffer = new ReadOnlySequence<byte>(pending.ToArray());
            while (ProtocolCodec.TryReadFrame(ref buffer, out _)) frames++;
            pending = buffer.ToArray().ToList();
        }
        Assert.Empty(pending);
        Assert.Equal(VectorNames().Count(n => Load(n).Expect == "ok"), frames);
    }

    [Fact]
    public void AnOversizeHeaderIsRefusedBeforeItsPayloadArrives()
    {
        var header = new ReadOnlySequence<byte>(new byte[] { 0x01, 0x00, 0x10, 0x00, 0x02, 0x00, 0x00, 0x00 });
        var e = Assert.Throws<ProtocolException>(() => ProtocolCodec.TryReadFrame(ref header, out _));
        Assert.Equal(ProtocolError.OversizePayload, e.Error);
    }

    internal static (byte[] Bytes, string Expect) Load(string name)
    {
        var bytes = new List<byte>();
        string expect = "";
        foreach (var raw in File.ReadAllLines(Path.Combine(VectorDirectory, name)))
        {
            var line = raw.Trim();
            if (line.StartsWith("# expect:")) expect = line["# expect:".Length..].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            bytes.AddRange(line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(h => byte.Parse(h, NumberStyles.HexNumber)));
        }
        Assert.NotEqual("", expect);
        return (bytes.ToArray(), expect);
    }
}
