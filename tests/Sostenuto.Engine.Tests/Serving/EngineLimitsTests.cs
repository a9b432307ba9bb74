using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Serving;
using Sostenuto.Engine.Tests.Cli;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Serving;

/// <summary>
/// What a hostile or broken client can make <c>sostenuto serve</c> spend is bounded (issue 19), over real
/// Unix sockets. The assertions wait for outcomes with generous deadlines and never measure time.
/// </summary>
[Collection(nameof(FixtureModel))]
public sealed class EngineLimitsTests(FixtureModel fixture) : IDisposable
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    readonly TempDirectory _directory = new("sostenuto-limits");
    readonly List<string> _log = new();

    string SocketPath => _directory.File("engine.sock");

    (EngineServer Server, Task Run, CancellationTokenSource Stop) Start(EngineLimits limits)
    {
        var server = new EngineServer(fixture.Package, SocketPath, line => { lock (_log) _log.Add(line); }, idleExit: null, limits);
        var stop = new CancellationTokenSource();
        return (server, server.RunAsync(stop.Token), stop);
    }

    Socket Connect()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
        return socket;
    }

    [Fact]
    public async Task AConnectionThatNeverSaysHelloIsClosedWithAnError()
    {
        var (server, run, stop) = Start(EngineLimits.Default with { HelloDeadline = TimeSpan.FromMilliseconds(100) });
        using (server)
        {
            using var idle = Connect();
            var reply = ProtocolFrames.Read(idle, Patience); // returns at end-of-file: the engine closed the connection
            var error = Assert.IsType<ErrorMessage>(Assert.Single(reply));
            Assert.Equal((ushort)EngineErrorCode.ProtocolError, error.Code);
            Assert.Contains("no Hello within", error.Message);
            stop.Cancel();
            await run;
        }
    }

    [Fact]
    public async Task AConnectionOverTheCapIsRefusedWithOverloadedAndALaterOneIsServed()
    {
        var (server, run, stop) = Start(EngineLimits.Default with { MaxConnections = 3 });
        using (server)
        {
            var idle = Enumerable.Range(0, 3).Select(_ => Connect()).ToList();
            using (var over = Connect())
            {
                var error = Assert.IsType<ErrorMessage>(Assert.Single(ProtocolFrames.Read(over, Patience)));
                Assert.Equal((ushort)EngineErrorCode.Overloaded, error.Code);
            }
            foreach (var s in idle) s.Dispose();
            // The engine notices the three closes in its own time: retry until a Hello is answered with a Welcome.
            var welcome = await HelloUntilWelcome(Patience);
            Assert.Equal("sostenuto-fixture", welcome.ModelName);
            lock (_log) Assert.Contains(_log, l => l.Contains("connections are open"));
            stop.Cancel();
            await run;
        }
    }

    /// <summary>
    /// The repro: <c>sostenuto serve</c> with a small file-descriptor limit (200), and more connections
    /// that never say Hello (250) than it has descriptors. The engine used to die at EMFILE; it must keep its
    /// connections below the limit, refuse the rest with a logged reason, and serve again once they are gone.
    /// </summary>
    [Fact]
    public async Task ServeSurvivesRunningOutOfFileDescriptors()
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // An idle engine holds about 70 descriptors (runtime, ONNX Runtime threads); 200 leaves room for a few dozen connections.
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("ulimit -n 200 && exec \"$0\" \"$@\"");
        start.ArgumentList.Add(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet");
        foreach (var a in new[] { CliRunner.DllPath, "serve", "--model", RepositoryPaths.FixtureModel, "--socket", SocketPath }) start.ArgumentList.Add(a);
        using var engine = Process.Start(start)!;
        var lines = new List<string>();
        engine.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        engine.BeginErrorReadLine();
        try
        {
            await WaitFor(() => { lock (lines) return lines.Any(l => l.Contains("serving ")); }, "the engine to listen", engine, lines);

            var idle = new List<Socket>();
            for (int i = 0; i < 250; i++)
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
                try { s.Connect(new UnixDomainSocketEndPoint(SocketPath)); idle.Add(s); }
                catch (SocketException) { s.Dispose(); } // the backlog is full: the engine stopped accepting
            }
            await WaitFor(() => { lock (lines) return lines.Any(l => l.Contains("connections are open")); }, "a connection over the cap to be refused", engine, lines);
            Assert.False(engine.HasExited, Describe("the engine died", lines));

            foreach (var s in idle) s.Dispose();
            var welcome = await HelloUntilWelcome(Patience);
            Assert.Equal("sostenuto-fixture", welcome.ModelName);
            lock (lines) Assert.DoesNotContain(lines, l => l.Contains("Out of memory") || l.Contains("Unhandled exception"));
            Assert.False(engine.HasExited, Describe("the engine died", lines));
        }
        finally
        {
            if (!engine.HasExited) engine.Kill();
            await engine.WaitForExitAsync();
        }
    }

    /// <summary>Connects, says Hello (studio, 48 kHz) and returns the socket once the Welcome has arrived.</summary>
    Socket Session(TestAudioRing ring)
    {
        var socket = Connect();
        socket.Send(ProtocolCodec.Encode(new HelloMessage(1, 48000, 256, ProcessMode.Realtime, LatencyMode.Studio, 0, 1024, 7, ring.Name)));
        Assert.IsType<WelcomeMessage>(Assert.Single(ProtocolFrames.Read(socket, Patience, 1)));
        return socket;
    }

    /// <summary>Sends frames until the engine answers (or closes): the frames may stop being read once it has refused.</summary>
    static List<ProtocolMessage> SendUntilAnswered(Socket socket, IEnumerable<ProtocolMessage> frames)
    {
        foreach (var frame in frames)
        {
            try { socket.Send(ProtocolCodec.Encode(frame)); }
            catch (SocketException) { break; } // the engine closed the connection
        }
        return ProtocolFrames.Read(socket, Patience);
    }

    [Fact]
    public async Task EventsStampedFarInTheFutureAreBoundedPerConnection()
    {
        var (server, run, stop) = Start(EngineLimits.Default with { MaxQueuedEvents = 1000 });
        using (server)
        {
            using var ring = new TestAudioRing(1 << 12);
            using var flooding = Session(ring);
            const long HourAhead = 48000L * 3600;
            var frames = Enumerable.Range(0, 20).Select(f => new MidiEventsMessage(Enumerable.Range(0, 100)
                .Select(i => new MidiEvent(HourAhead + f * 100 + i, new MidiMessage(0x90, (byte)(36 + i % 48), 64))).ToList()));
            var reply = SendUntilAnswered(flooding, frames);
            var error = Assert.IsType<ErrorMessage>(Assert.Single(reply));
            Assert.Equal((ushort)EngineErrorCode.ProtocolError, error.Code);
            Assert.Contains("events queued ahead of the clock, at most 1000", error.Message);

            using var ring2 = new TestAudioRing(1 << 12);
            using var other = Session(ring2); // the engine serves on
            stop.Cancel();
            await run;
        }
    }

    [Fact]
    public async Task FlushesAheadOfTheClockCannotPileUpModelStreams()
    {
        var (server, run, stop) = Start(EngineLimits.Default);
        using (server)
        {
            using var ring = new TestAudioRing(1 << 12);
            using var flooding = Session(ring);
            // Note, All Sound Off, note, ...: every note starts a model stream, each kept until its fade-out is rendered.
            var events = Enumerable.Range(0, 2 * (EngineLimits.Default.MaxStreams + 2)).Select(i => new MidiEvent(48000L * 3600 + i,
                i % 2 == 0 ? new MidiMessage(0x90, 60, 64) : new MidiMessage(0xB0, 120, 0))).ToList();
            var reply = SendUntilAnswered(flooding, [new MidiEventsMessage(events)]);
            var error = Assert.IsType<ErrorMessage>(Assert.Single(reply));
            Assert.Equal((ushort)EngineErrorCode.ProtocolError, error.Code);
            Assert.Contains("model streams alive", error.Message);
            stop.Cancel();
            await run;
        }
    }

    public static TheoryData<string> Overflows() => new() { "ClockAdvance", "Transport", "ParameterChange", "MidiEvents", "MidiEventsEarly" };

    /// <summary>Stream times at and above 2^63 used to reach a checked cast and end as Error internal, with a stack trace in the log.</summary>
    [Theory]
    [MemberData(nameof(Overflows))]
    public async Task AStreamTimeBeyondTheLimitIsAProtocolError(string kind)
    {
        var (server, run, stop) = Start(EngineLimits.Default);
        using (server)
        {
            using var ring = new TestAudioRing(1 << 12);
            using var socket = Session(ring);
            const ulong Huge = 1UL << 63;
            ProtocolMessage message = kind switch
            {
                "ClockAdvance" => new ClockAdvanceMessage(Huge),
                "Transport" => new TransportMessage(TransportKind.Flush, ulong.MaxValue),
                "ParameterChange" => new ParameterChangeMessage(Huge + 12345, EngineParameters.Temperature, 1f),
                "MidiEvents" => new MidiEventsMessage([new MidiEvent(long.MaxValue, new MidiMessage(0x90, 60, 64))]),
                _ => new MidiEventsMessage([new MidiEvent(EngineLimits.MaxStreamTime + 1, new MidiMessage(0x90, 60, 64))]),
            };
            var error = Assert.IsType<ErrorMessage>(Assert.Single(SendUntilAnswered(socket, [message])));
            Assert.Equal((ushort)EngineErrorCode.ProtocolError, error.Code);
            Assert.Contains("invalid_value", error.Message);
            lock (_log) Assert.DoesNotContain(_log, l => l.Contains("internal error"));
            stop.Cancel();
            await run;
        }
    }

    public static TheoryData<LatencyMode, uint, uint> BadHellos() => new()
    {
        { LatencyMode.Studio, 256, uint.MaxValue },   // lookahead + slack overflowed the Welcome's u32
        { LatencyMode.Live, 256, uint.MaxValue },     // 24.8 hours of latency at 48 kHz
        { LatencyMode.Live, 256, 48001 },             // just over one second
        { LatencyMode.Studio, uint.MaxValue, 1024 },  // a block the plug-in itself would never pass on
    };

    [Theory]
    [MemberData(nameof(BadHellos))]
    public async Task AHelloAskingForTooMuchLatencyIsAProtocolError(LatencyMode mode, uint block, uint slack)
    {
        var (server, run, stop) = Start(EngineLimits.Default);
        using (server)
        {
            using var ring = new TestAudioRing(1 << 12);
            using var socket = Connect();
            var reply = SendUntilAnswered(socket, [new HelloMessage(1, 48000, block, ProcessMode.Realtime, mode, 0, slack, 7, ring.Name)]);
            var error = Assert.IsType<ErrorMessage>(Assert.Single(reply));
            Assert.Equal((ushort)EngineErrorCode.ProtocolError, error.Code);
            Assert.Contains("invalid_value", error.Message);
            stop.Cancel();
            await run;
        }
    }

    [Fact]
    public async Task TheLargestSlackAllowedIsServed()
    {
        var (server, run, stop) = Start(EngineLimits.Default);
        using (server)
        {
            using var ring = new TestAudioRing(1 << 12);
            using var socket = Connect();
            socket.Send(ProtocolCodec.Encode(new HelloMessage(1, 48000, 4096, ProcessMode.Realtime, LatencyMode.Studio, 0, 48000, 7, ring.Name)));
            var welcome = Assert.IsType<WelcomeMessage>(Assert.Single(ProtocolFrames.Read(socket, Patience, 1)));
            Assert.True(welcome.TotalLatencySamples >= 48000);
            stop.Cancel();
            await run;
        }
    }

    public static TheoryData<string> ForgingNames() => new()
    {
        "/x/y\n12:00:00.000 instance 1: closed (goodbye)",                  // not a name: the decoder refuses it
        "/sostenuto-x\n12:00:00.000 instance 1: closed (goodbye)",           // a name, but no such ring
        "/sostenuto-\u001b[2J\u202e" + new string('a', 200) + "\r\nforged", // terminal escape, bidi override, long
    };

    /// <summary>A shared-memory name with a newline used to forge log lines and came back raw in the Error.</summary>
    [Theory]
    [MemberData(nameof(ForgingNames))]
    public async Task ClientStringsAreEscapedAndCappedInTheLogAndTheError(string name)
    {
        var (server, run, stop) = Start(EngineLimits.Default);
        using (server)
        {
            using var socket = Connect();
            var reply = SendUntilAnswered(socket, [new HelloMessage(1, 48000, 256, ProcessMode.Realtime, LatencyMode.Studio, 0, 1024, 7, name)]);
            var error = Assert.IsType<ErrorMessage>(Assert.Single(reply));
            Assert.DoesNotContain(error.Message, c => char.IsControl(c) || c == '\u202e');
            Assert.Contains("\\", error.Message); // the escapes are there instead
            Assert.True(error.Message.Length < 250, $"the Error echoes {error.Message.Length} characters: {error.Message}");
            stop.Cancel();
            await run;
            lock (_log)
            {
                Assert.Contains(_log, l => l.Contains("instance 1: closed ("));
                foreach (var line in _log)
                {
                    Assert.DoesNotContain(line, c => char.IsControl(c) || c == '\u202e');
                    Assert.True(line.Length < 400, $"a log line of {line.Length} characters: {line}");
                }
            }
        }
    }

    static async Task WaitFor(Func<bool> condition, string what, Process engine, List<string> lines)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.False(engine.HasExited, Describe($"the engine exited (code {(engine.HasExited ? engine.ExitCode : 0)}) waiting for {what}", lines));
            Assert.True(watch.Elapsed < Patience, Describe($"waited {Patience.TotalSeconds} s for {what}", lines));
            await Task.Delay(50);
        }
    }

    static string Describe(string what, List<string> lines)
    {
        lock (lines) return what + "; engine log:\n" + string.Join('\n', lines.TakeLast(40));
    }

    /// <summary>Connects and says Hello until the engine answers with a Welcome (it may still be freeing connections).</summary>
    async Task<WelcomeMessage> HelloUntilWelcome(TimeSpan patience)
    {
        using var ring = new TestAudioRing(1 << 12);
        var watch = Stopwatch.StartNew();
        while (true)
        {
            using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                try
                {
                    socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
                    socket.Send(ProtocolCodec.Encode(new HelloMessage(1, 48000, 256, ProcessMode.Realtime, LatencyMode.Studio, 0, 1024, 7, ring.Name)));
                    if (ProtocolFrames.Read(socket, patience, 1) is [WelcomeMessage welcome]) return welcome;
                }
                catch (SocketException) { }
            }
            Assert.True(watch.Elapsed < patience, $"no Welcome within {patience.TotalSeconds} s");
            await Task.Delay(100);
        }
    }

    public void Dispose() => _directory.Dispose();
}
