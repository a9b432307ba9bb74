using System.Buffers;
using System.Net.Sockets;
using Sostenuto.Engine.Serving;

namespace Sostenuto.Engine.Tests.Tools;

/// <summary>The engine's side of a raw protocol conversation, for tests that speak to `serve` over a socket.</summary>
static class ProtocolFrames
{
    /// <summary>Frames from the engine until end-of-file, <paramref name="want"/> frames, or the timeout.</summary>
    public static List<ProtocolMessage> Read(Socket socket, TimeSpan timeout, int want = int.MaxValue)
    {
        var messages = new List<ProtocolMessage>();
        var pending = new List<byte>();
        var buffer = new byte[4096];
        socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        while (messages.Count < want)
        {
            int n;
            try { n = socket.Receive(buffer); } catch (SocketException) { break; }
            if (n == 0) break;
            pending.AddRange(buffer.AsSpan(0, n).ToArray());
            var sequence = new ReadOnlySequence<byte>(pending.ToArray());
            while (messages.Count < want && ProtocolCodec.TryReadFrame(ref sequence, out var m)) messages.Add(m);
            pending = sequence.ToArray().ToList();
        }
        return messages;
    }
}
