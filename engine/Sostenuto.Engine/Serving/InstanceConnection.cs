using System.Buffers;
using System.Net.Sockets;
using Sostenuto.Engine.Diagnostics;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Streaming;

namespace Sostenuto.Engine.Serving;

/// <summary>
/// One plug-in instance on the engine side: reads its frames on a thread of its own, runs its
/// <see cref="RenderSession"/>, and writes audio into the instance's shared-memory ring: in studio mode
/// as soon as the clock makes it final, in live mode speculatively ahead of the reader, splicing when an
/// event changes it (<see cref="SpeculativeRingWriter"/>). A malformed frame ends this connection only,
/// with a logged reason.
/// </summary>
public sealed class InstanceConnection
{
    const int RenderBlock = 4096;
    static readonly TimeSpan StatusInterval = TimeSpan.FromMilliseconds(100);

    readonly Socket _socket;
    readonly ModelPackage _package;
    readonly Action<string> _log;
    readonly string _label;
    readonly EngineLimits _limits;
    readonly float[] _left = new float[RenderBlock];
    readonly float[] _right = new float[RenderBlock];
    NetworkStream? _stream;
    RenderSession? _session;
    SharedAudioRing? _ring;
    SpeculativeRingWriter? _live;
    HelloMessage? _hello;
    long _underruns;
    long _lastStatusTicks;
    bool _clockPending;
    long _clockAdvances;

    public InstanceConnection(Socket socket, ModelPackage package, Action<string> log, long number, EngineLimits? limits = null)
    {
        _socket = socket;
        _package = package;
        _log = log;
        _label = $"instance {number}";
        _limits = limits ?? EngineLimits.Default;
    }

    /// <summary>
    /// Serves the connection on a thread of its own that blocks in the socket's receive: a frame from the
    /// plug-in wakes that one thread, which decodes, renders and writes the ring (issue #20: through
    /// System.IO.Pipelines each wake-up was an epoll thread waking a thread-pool worker, most of what an
    /// idle instance cost the engine). The task completes when the connection is closed.
    /// </summary>
    public Task RunAsync(CancellationToken cancel)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Run(cancel);
                done.SetResult();
            }
            catch (Exception e) { done.SetException(e); }
        }) { IsBackground = true, Name = _label };
        thread.Start();
        return done.Task;
    }

    void Run(CancellationToken cancel)
    {
        _stream = new NetworkStream(_socket, ownsSocket: true);
        string reason = "the plug-in closed the connection";
        // Shutting the socket down is what wakes a blocked receive when the engine stops.
        using var stopping = cancel.Register(() =>
        {
            try { _socket.Shutdown(SocketShutdown.Receive); } catch (SocketException) { } catch (ObjectDisposedException) { }
        });
        // Until its Hello has arrived, a connection lives only as long as the Hello deadline.
        long helloDeadline = Environment.TickCount64 + (long)_limits.HelloDeadline.TotalMilliseconds;
        // Room for one whole frame of the largest size and what follows it; a frame is decoded as soon as it is whole.
        var buffer = new byte[2 * (ProtocolCodec.HeaderSize + ProtocolCodec.MaxPayloadSize)];
        int begin = 0, end = 0, receiveTimeout = -1;
        try
        {
            while (true)
            {
                if (begin == end) begin = end = 0;
                if (begin > 0 && buffer.Length - end < ProtocolCodec.HeaderSize + ProtocolCodec.MaxPayloadSize)
                {
                    Buffer.BlockCopy(buffer, begin, buffer, 0, end - begin);
                    end -= begin;
                    begin = 0;
                }
                int received;
                try
                {
                    int timeout = _hello is null ? (int)Math.Max(1, helloDeadline - Environment.TickCount64) : 0;
                    if (timeout != receiveTimeout) _socket.ReceiveTimeout = receiveTimeout = timeout;
                    received = _socket.Receive(buffer, end, buffer.Length - end, SocketFlags.None);
                }
                catch (SocketException e) when (cancel.IsCancellationRequested) { throw new OperationCanceledException(e.Message, e, cancel); }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut && _hello is null)
                {
                    throw new EngineRefusal(EngineErrorCode.ProtocolError, $"no Hello within {_limits.HelloDeadline.TotalSeconds:0.###} s of connecting");
                }
                catch (SocketException e) { throw new IOException(e.Message, e); }
                if (cancel.IsCancellationRequested) throw new OperationCanceledException(cancel);
                if (received == 0)
                {
                    if (end > begin) reason = $"the connection ended inside a frame ({end - begin} bytes pending)";
                    break;
                }
                end += received;
                EngineProfile.Add(EngineProfile.Section.Wakeup);
                var pending = new ReadOnlySequence<byte>(buffer, begin, end - begin);
                bool goodbye = false;
                while (!goodbye)
                {
                    long t = EngineProfile.Start();
                    if (!ProtocolCodec.TryReadFrame(ref pending, out var message)) break;
                    EngineProfile.Stop(EngineProfile.Section.Decode, t);
                    t = EngineProfile.Start();
                    goodbye = !Handle(message);
                    EngineProfile.Stop(EngineProfile.Section.Message, t);
                }
                begin = end - (int)pending.Length;
                // Every ClockAdvance of what arrived at once is one piece of work: the last one's.
                if (_clockPending && !goodbye) ClockWork();
                if (goodbye) { reason = "goodbye"; break; }
            }
        }
        catch (ProtocolException e)
        {
            reason = $"protocol error, closing: {ClientText.OneLine(e.Message)}";
            TrySend(new ErrorMessage((ushort)(e.Error == ProtocolError.UnsupportedVersion ? EngineErrorCode.UnsupportedVersion : EngineErrorCode.ProtocolError), ClientText.OneLine(e.Message)));
        }
        catch (EngineRefusal e)
        {
            reason = $"refused: {ClientText.OneLine(e.Message)}";
            TrySend(new ErrorMessage((ushort)e.Code, ClientText.OneLine(e.Message)));
        }
        catch (OperationCanceledException) { reason = "engine shutting down"; }
        catch (IOException e) { reason = $"connection lost: {ClientText.OneLine(e.Message)}"; }
        catch (Exception e)
        {
            reason = $"internal error: {e}";
            TrySend(new ErrorMessage((ushort)EngineErrorCode.Internal, e.Message));
        }
        finally
        {
            _session?.Dispose();
            _ring?.Dispose();
            _stream.Dispose();
            _log($"{_label}: closed ({reason}); {_underruns + (_live?.Underruns ?? 0)} underruns, {_session?.LateEvents ?? 0} late events" +
                 (_live is null ? "" : $", {_live.Splices} splices") +
                 $"; {ClockBatches} clock renders for {_clockAdvances} ClockAdvances, {_session?.LmRuns ?? 0} LM runs, {_session?.Rests ?? 0} rests");
        }
    }

    /// <summary>Handles one message; false when the plug-in said goodbye.</summary>
    bool Handle(ProtocolMessage message)
    {
        if (_hello is null && message is not HelloMessage)
            throw new ProtocolException(ProtocolError.UnexpectedMessage, $"{message.Type} before Hello");
        switch (message)
        {
            case HelloMessage hello:
                if (_hello is not null) throw new ProtocolException(ProtocolError.UnexpectedMessage, "a second Hello");
                Welcome(hello);
                break;
            case MidiEventsMessage m:
                foreach (var e in m.Events)
                {
                    StreamTime((ulong)e.Time, "MidiEvents");
                    _session!.AddEvent(e);
                    CheckQueue(); // per event: one frame holds thousands, and each note after an All Sound Off starts a stream
                }
                break;
            case ClockAdvanceMessage m:
                // The clock is taken at once (events after it in this batch are checked against it); the
                // rendering it allows waits for the end of the batch (ClockWork), so that a batch of clock
                // advances costs one render and one ring write, not one each.
                _session!.AdvanceClock(StreamTime(m.StreamTime, "ClockAdvance"));
                _clockPending = true;
                _clockAdvances++;
                EngineProfile.Add(EngineProfile.Section.ClockAdvance);
                break;
            case TransportMessage m:
                _session!.Flush(StreamTime(m.StreamTime, "Transport"));
                CheckQueue();
                break;
            case ParameterChangeMessage m:
                long parameterTime = StreamTime(m.StreamTime, "ParameterChange");
                if (m.ParameterId == EngineParameters.Temperature)
                    _session!.SetTemperature(parameterTime, _package.Manifest.Sampling.Temperature * Math.Clamp(m.Value, 0.05f, 2f));
                CheckQueue();
                break;
            case ProcessModeMessage:
                break; // the engine renders as far as the clock allows in either mode; only the shim waits differently
            case GoodbyeMessage:
                return false;
            default:
                throw new ProtocolException(ProtocolError.UnexpectedMessage, $"{message.Type} travels from the engine, not to it");
        }
        return true;
    }

    /// <summary>What the clock advances of one batch of frames allow: the live writer's update, or the studio render.</summary>
    void ClockWork()
    {
        long t = EngineProfile.Start();
        _clockPending = false;
        ClockBatches++;
        if (_live is not null) _live.Update();
        else RenderAvailable();
        SendStatusNow();
        EngineProfile.Stop(EngineProfile.Section.ClockWork, t);
        EngineProfile.Add(EngineProfile.Section.ClockBatch);
    }

    /// <summary>Times this connection rendered and wrote for the clock (one per batch of frames that held a ClockAdvance).</summary>
    public long ClockBatches { get; private set; }

    /// <summary>A stream time from the client, refused beyond <see cref="EngineLimits.MaxStreamTime"/> (where sample arithmetic could overflow).</summary>
    static long StreamTime(ulong time, string message) => time <= EngineLimits.MaxStreamTime ? (long)time
        : throw new ProtocolException(ProtocolError.InvalidValue, $"{message}: stream time {time} is beyond the engine's limit of {EngineLimits.MaxStreamTime} samples");

    /// <summary>What a client has queued stays bounded (<see cref="EngineLimits.MaxQueuedEvents"/>, <see cref="EngineLimits.MaxStreams"/>).</summary>
    void CheckQueue()
    {
        long queued = _session!.QueuedInputs;
        if (queued > _limits.MaxQueuedEvents)
            throw new EngineRefusal(EngineErrorCode.ProtocolError, $"{queued} events queued ahead of the clock, at most {_limits.MaxQueuedEvents}: events are stamped too far in the future");
        if (_session.StreamCount > _limits.MaxStreams)
            throw new EngineRefusal(EngineErrorCode.ProtocolError, $"{_session.StreamCount} model streams alive, at most {_limits.MaxStreams}: too many flushes or All Sound Offs ahead of the clock");
    }

    void Welcome(HelloMessage hello)
    {
        if (hello.SampleRate is < 8000 or > 384000)
            throw new EngineRefusal(EngineErrorCode.ProtocolError, $"sample rate {hello.SampleRate} Hz is not supported");
        if (hello.MaxBlockSize > EngineLimits.MaxBlockSize)
            throw new ProtocolException(ProtocolError.InvalidValue, $"Hello: max block size {hello.MaxBlockSize} is above {EngineLimits.MaxBlockSize}");
        long maxSlack = EngineLimits.MaxComputeSlack(hello.SampleRate, hello.MaxBlockSize);
        if (hello.ComputeSlackSamples > maxSlack)
            throw new ProtocolException(ProtocolError.InvalidValue, $"Hello: compute slack of {hello.ComputeSlackSamples} samples is above {maxSlack} (one second, or two blocks)");
        try { _ring = SharedAudioRing.Open(hello.SharedMemoryName); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // .NET's own messages quote the path, the client's bytes: show the escaped name instead.
            var path = "/dev/shm" + hello.SharedMemoryName;
            var message = e.Message.Contains(path) ? e.Message.Replace(path, "/dev/shm/" + ClientText.Quote(hello.SharedMemoryName[1..])) : e.Message;
            throw new EngineRefusal(EngineErrorCode.AudioRingUnusable, message);
        }
        if (_ring.WritePosition != 0 || _ring.ReadPosition != 0 || _ring.ReadClaim != 0 || !_ring.SpliceIdle)
            throw new EngineRefusal(EngineErrorCode.AudioRingUnusable, $"audio ring {ClientText.Quote(hello.SharedMemoryName)} does not start at render time 0");
        _hello = hello;
        // Live: lookahead 0, the latency is the slack alone; the engine renders ahead speculatively.
        bool live = hello.LatencyMode == LatencyMode.Live;
        int speculation = live ? SpeculativeRingWriter.SpeculationFor((int)hello.SampleRate, (int)Math.Min(hello.MaxBlockSize, 1 << 16)) : 0;
        _session = new RenderSession(_package, new RenderSettings((int)hello.SampleRate, Seed: 0, SpeculationSamples: speculation, ReuseUnchangedWork: RenderSettings.ReuseFromEnvironment, HonourRest: RenderSettings.RestFromEnvironment));
        if (live)
        {
            SpeculativeRingWriter.WarmUp(_package);
            _live = new SpeculativeRingWriter(_session, _ring, (int)Math.Min(hello.MaxBlockSize, 1 << 16));
            _live.Update(); // the horizon of silence, before the plug-in reads render time 0 only D after the Welcome
        }
        long lookahead = _session.LatencySamples;
        long slack = Math.Max(hello.ComputeSlackSamples, hello.MaxBlockSize);
        var m = _package.Manifest;
        Send(new WelcomeMessage(ProtocolCodec.ProtocolVersion, checked((uint)(lookahead + slack)), (uint)lookahead, (uint)_ring.CapacityFrames,
            m.Name, m.Version, (m.Untrained ? WelcomeMessage.FlagUntrained : 0) | (live ? WelcomeMessage.FlagRendersAhead : 0)));
        _log($"{_label}: {hello.SampleRate} Hz, blocks up to {hello.MaxBlockSize}, {hello.ProcessMode}, {hello.LatencyMode}; latency {lookahead} + {slack} samples; ring {ClientText.Quote(hello.SharedMemoryName)}");
    }

    /// <summary>Renders everything the clock has made final, as far as the ring has room.</summary>
    void RenderAvailable()
    {
        var session = _session!;
        var ring = _ring!;
        // The plug-in read past what we had written (an underrun it has already played as silence):
        // render those samples anyway, so the stream stays one deterministic whole, and skip them.
        long consumer = ring.ReadPosition;
        if (consumer > session.Position)
        {
            _underruns++;
            while (session.Position < consumer)
            {
                int n = (int)Math.Min(RenderBlock, consumer - session.Position);
                if (session.Render(_left.AsSpan(0, n), _right.AsSpan(0, n)) < n) break;
            }
            ring.SkipTo(session.Position);
        }
        while (true)
        {
            int n = Math.Min(ring.WritableFrames, RenderBlock);
            if (n == 0) break;
            int got = session.Render(_left.AsSpan(0, n), _right.AsSpan(0, n));
            if (got > 0) ring.Write(_left.AsSpan(0, got), _right.AsSpan(0, got));
            if (got < n) break;
        }
    }

    void SendStatusNow()
    {
        long now = Environment.TickCount64;
        if (now - _lastStatusTicks < StatusInterval.TotalMilliseconds) return;
        _lastStatusTicks = now;
        long underruns = _underruns + (_live?.Underruns ?? 0);
        Send(new StatusMessage((ulong)_ring!.WritePosition, (uint)Math.Min(underruns, uint.MaxValue), (uint)Math.Min(_session!.LateEvents, uint.MaxValue)));
    }

    void Send(ProtocolMessage message) => _stream!.Write(ProtocolCodec.Encode(message));

    void TrySend(ProtocolMessage message)
    {
        try { Send(message); } catch (IOException) { } catch (ObjectDisposedException) { }
    }
}

/// <summary>The engine cannot serve this instance (bad ring, unsupported rate): it says why in an Error message.</summary>
sealed class EngineRefusal(EngineErrorCode code, string message) : Exception(message)
{
    public EngineErrorCode Code { get; } = code;
}
