using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Serving;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Streaming;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Serving;

/// <summary>
/// <c>sostenuto serve</c> end to end over a real Unix socket and real shared memory: a client plays
/// the plug-in's part (Hello, events and clock per block, audio read one latency behind from the ring).
/// </summary>
[Collection(nameof(FixtureModel))]
public sealed class EngineServerTests(FixtureModel fixture) : IDisposable
{
    const int Rate = 48000;
    readonly string _directory = Directory.CreateTempSubdirectory("sostenuto-serve-").FullName;
    readonly List<string> _log = new();

    string SocketPath => Path.Combine(_directory, "engine.sock");

    (EngineServer Server, Task Run, CancellationTokenSource Stop) Start()
    {
        var server = new EngineServer(fixture.Package, SocketPath, line => { lock (_log) _log.Add(line); }, idleExit: null);
        var stop = new CancellationTokenSource();
        return (server, server.RunAsync(stop.Token), stop);
    }

    [Fact]
    public async Task AStreamedInstanceGetsTheSameAudioAsAnOfflineRender()
    {
        var (server, run, stop) = Start();
        using (server)
        {
            var events = TestPerformances.DemoOpening(Rate, 2.0);
            int length = 2 * Rate;
            var played = await PlayAsAPlugin(events, length, blockSize: 512);

            using var reference = new RenderSession(fixture.Package, new RenderSettings(Rate));
            var (expected, _) = TestPerformances.RenderAtOnce(reference, events, length);
            Assert.True(expected.AsSpan().SequenceEqual(played), "served audio differs from the offline render");
            stop.Cancel();
            await run;
        }
    }

    [Fact]
    public async Task AMalformedFrameClosesThatInstanceOnlyWithALoggedReason()
    {
        var (server, run, stop) = Start();
        using (server)
        {
            var good = PlayAsAPlugin(TestPerformances.DemoOpening(Rate, 1.0), Rate, blockSize: 256);
            using (var bad = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                bad.Connect(new UnixDomainSocketEndPoint(SocketPath));
                bad.Send(new byte[] { 8, 0, 0, 0, 0x99, 0x09, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8 }); // unknown type
                var reply = ProtocolFrames.Read(bad, TimeSpan.FromSeconds(10));
                var error = Assert.IsType<ErrorMessage>(Assert.Single(reply));
                Assert.Equal((ushort)EngineErrorCode.ProtocolError, error.Code);
                Assert.Contains("unknown_message_type", error.Message);
            }
            var audio = await good; // the other instance finished its whole render
            Assert.Contains(audio, x => x != 0);
            lock (_log) Assert.Contains(_log, l => l.Contains("protocol error") && l.Contains("unknown_message_type"));
            stop.Cancel();
            await run;
        }
    }

    [Fact]
    public void ASecondEngineOnTheSameSocketRefusesToStart()
    {
        var (server, _, stop) = Start();
        using (server)
        {
            Assert.Throws<EngineAlreadyRunningException>(() => new EngineServer(fixture.Package, SocketPath, _ => { }, null));
            stop.Cancel();
        }
    }

    [Fact]
    public void TheSocketIsPrivateToTheUser()
    {
        var (server, _, stop) = Start();
        using (server)
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SocketPath));
            stop.Cancel();
        }
    }

    [Fact]
    public async Task APeerOfAnotherUserIsRefusedEvenIfTheSocketIsOpenedUp()
    {
        if (PeerCredentials.EffectiveUserId != 0) return; // needs root to act as another user; CI and these machines run as root
        var (server, run, stop) = Start();
        using (server)
        {
            // Defeat the first defence (mode 0600 in a private folder) to reach the second: SO_PEERCRED.
            File.SetUnixFileMode(_directory, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(SocketPath, (UnixFileMode)0b110_110_110);
            var script = $"import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect('{SocketPath}'); s.settimeout(10); sys.stdout.write(repr(s.recv(100)))";
            var psi = new ProcessStartInfo("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", script]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(psi)!;
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.Equal("b''", output); // connection closed at once, not a byte sent
            lock (_log) Assert.Contains(_log, l => l.Contains("refused a connection from uid 65534"));
            stop.Cancel();
            await run;
        }
    }

    /// <summary>
    /// ClockAdvances that arrive together cost one render into the ring, not one each (issue #20: per-block
    /// work was most of what an idle instance cost); and a live session's Welcome says the engine renders
    /// ahead, so the front end may hold its clock back (docs/idle.md). Counts, not times.
    /// </summary>
    [Theory]
    [InlineData(LatencyMode.Studio)]
    [InlineData(LatencyMode.Live)]
    public async Task ClockAdvancesThatArriveTogetherCostOneRender(LatencyMode mode)
    {
        var (server, run, stop) = Start();
        using (server)
        {
            using var ring = new TestAudioRing(1 << 16);
            using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
                socket.Send(ProtocolCodec.Encode(new HelloMessage(1, Rate, 128, ProcessMode.Realtime, mode, 0, 2400, 43, ring.Name)));
                var welcome = Assert.IsType<WelcomeMessage>(ProtocolFrames.Read(socket, TimeSpan.FromSeconds(30), 1)[0]);
                Assert.Equal(mode == LatencyMode.Live, (welcome.Flags & WelcomeMessage.FlagRendersAhead) != 0);
                var batch = new List<byte>();
                for (int b = 1; b <= 200; b++) batch.AddRange(ProtocolCodec.Encode(new ClockAdvanceMessage((ulong)(b * 128))));
                socket.Send(batch.ToArray());
                await Task.Delay(300);
                socket.Send(ProtocolCodec.Encode(new GoodbyeMessage()));
                ProtocolFrames.Read(socket, TimeSpan.FromSeconds(10), int.MaxValue); // until the engine closes
            }
            string closed = "";
            var wait = Stopwatch.StartNew();
            while (closed == "" && wait.Elapsed < TimeSpan.FromSeconds(10))
            {
                lock (_log) closed = _log.FirstOrDefault(l => l.Contains("closed (goodbye)")) ?? "";
                await Task.Delay(10);
            }
            var match = System.Text.RegularExpressions.Regex.Match(closed, @"(\d+) clock renders for (\d+) ClockAdvances");
            Assert.True(match.Success, closed);
            Assert.Equal(200, int.Parse(match.Groups[2].Value));
            Assert.InRange(int.Parse(match.Groups[1].Value), 1, 10); // one per socket read: 3.3 KB arrive in one or a few
            stop.Cancel();
            await run;
        }
    }

    /// <summary>
    /// The plug-in's part: Hello; per block, the block's events and a ClockAdvance; audio for render
    /// time s − D read from the ring (waiting for it, as offline mode does). Returns the left channel.
    /// </summary>
    async Task<float[]> PlayAsAPlugin(MidiEvent[] events, int length, int blockSize)
    {
        using var ring = new TestAudioRing(1 << 16);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        socket.Send(ProtocolCodec.Encode(new HelloMessage(1, Rate, (uint)blockSize, ProcessMode.Offline, LatencyMode.Studio, 0, 1024, 42, ring.Name)));
        var welcome = Assert.IsType<WelcomeMessage>(ProtocolFrames.Read(socket, TimeSpan.FromSeconds(30), 1)[0]);
        long latency = welcome.TotalLatencySamples;
        Assert.True(welcome.LookaheadSamples <= latency);
        Assert.Equal("sostenuto-fixture", welcome.ModelName);

        var output = new float[length];
        var right = new float[blockSize];
        int next = 0;
        for (long s = 0; s - latency < length; s += blockSize)
        {
            var blockEvents = new List<MidiEvent>();
            while (next < events.Length && events[next].Time < s + blockSize) blockEvents.Add(events[next++]);
            if (blockEvents.Count > 0) socket.Send(ProtocolCodec.Encode(new MidiEventsMessage(blockEvents)));
            socket.Send(ProtocolCodec.Encode(new ClockAdvanceMessage((ulong)(s + blockSize))));
            long r = s - latency;
            if (r + blockSize <= 0) continue;
            long from = Math.Max(0, r), to = Math.Min(length, r + blockSize);
            if (to <= from) continue;
            var wait = Stopwatch.StartNew();
            while (ring.Published < to)
            {
                Assert.True(wait.Elapsed < TimeSpan.FromSeconds(20), $"the engine never published render time {to}");
                await Task.Delay(1);
            }
            ring.Read(from, output.AsSpan((int)from, (int)(to - from)), right.AsSpan(0, (int)(to - from)));
        }
        socket.Send(ProtocolCodec.Encode(new GoodbyeMessage()));
        return output;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
