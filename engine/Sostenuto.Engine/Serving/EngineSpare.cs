using System.Diagnostics;

namespace Sostenuto.Engine.Serving;

/// <summary>
/// A warm spare for the serving engine (<c>serve --spare</c>): a second engine process started from this
/// one's own command line plus <see cref="StandbyOption"/>. It loads the same model, warms up, and waits for
/// the socket's lock (<see cref="EngineLock.WaitAsync"/>); when this engine dies (a crash, a kill), the
/// kernel hands it the lock and it serves the socket within milliseconds, so every instance reconnects
/// without waiting for a cold start of the runtime and the model (about half a second; issue #19). The new
/// engine then keeps a spare of its own.
///
/// The policy, owned here:
/// <list type="bullet">
/// <item>the spare starts <see cref="StartDelay"/> after this engine listens, and then only in a pause of
/// the music: once no model has run and no MIDI event has come for <see cref="QuietTime"/>
/// (<see cref="Streaming.ModelActivity"/>), or <see cref="MaxDeferral"/> later at the latest. Its start-up (the runtime, the model, the warm-up and the compiling: about two CPU-seconds)
/// competes with a live instance's rendering on a small machine, so it waits for a pause (measured: the
/// underruns outside outages of the engine-kill test fell 2-4 s after each start while it did not wait);</item>
/// <item>a spare that dies is started again, after a back-off that doubles from <see cref="StartDelay"/> up to
/// <see cref="MaxRestartDelay"/> (a spare that fails at start-up must not spin), reset once one has lived that long;</item>
/// <item>when this engine exits on purpose (SIGTERM, idle exit), the spare is killed first, before the lock is
/// released, so it never takes over from an engine that meant to stop. Dispose it before the server.</item>
/// </list>
/// It costs a second process's memory (the model's sessions; about 90 MB with the default piano) and no
/// CPU while it waits.
/// </summary>
public sealed class EngineSpare : IDisposable
{
    public const string StandbyOption = "--standby";
    public static readonly TimeSpan StartDelay = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan QuietTime = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan MaxDeferral = TimeSpan.FromSeconds(30);
    static readonly TimeSpan QuietPoll = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan MaxRestartDelay = TimeSpan.FromSeconds(60);

    readonly IReadOnlyList<string> _command;
    readonly Action<string> _log;
    readonly object _gate = new();
    readonly CancellationTokenSource _stop = new();
    readonly Task _run;
    Process? _process;
    bool _disposed;

    /// <param name="command">The spare's program and arguments (<see cref="CommandOfThisProcess"/>).</param>
    public EngineSpare(IReadOnlyList<string> command, Action<string> log)
    {
        if (command.Count == 0) throw new ArgumentException("no program", nameof(command));
        _command = command;
        _log = log;
        _run = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>The spare running now, if any (for tests and the log).</summary>
    public int? ProcessId
    {
        get { lock (_gate) return _process is { HasExited: false } p ? p.Id : null; }
    }

    /// <summary>
    /// This process's own command line (the executable, then argv[1..] as given: for a framework-dependent
    /// engine that is <c>dotnet sostenuto.dll serve …</c>), with <see cref="StandbyOption"/> added once.
    /// </summary>
    public static IReadOnlyList<string> CommandOfThisProcess()
    {
        var argv = File.ReadAllText("/proc/self/cmdline").Split('\0');
        int count = argv.Length > 0 && argv[^1].Length == 0 ? argv.Length - 1 : argv.Length; // ends with a NUL
        var command = new List<string> { Environment.ProcessPath ?? argv[0] };
        command.AddRange(argv.Skip(1).Take(count - 1));
        if (!command.Contains(StandbyOption)) command.Add(StandbyOption);
        return command;
    }

    /// <summary>
    /// Compiles every method of the engine's own assemblies now (the JIT compiles each on its first call, fully
    /// optimised: TieredCompilation is off), so that a spare that takes over does not spend the first
    /// connection's hundred-odd milliseconds compiling the accept, handshake and ring paths. Generic methods
    /// and open generic types are left to their first call. Returns how many were compiled.
    /// </summary>
    public static int CompileEngineCode(params System.Reflection.Assembly[] assemblies)
    {
        const System.Reflection.BindingFlags all = System.Reflection.BindingFlags.DeclaredOnly | System.Reflection.BindingFlags.Instance |
            System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic;
        int compiled = 0;
        foreach (var assembly in assemblies)
        {
            foreach (var type in assembly.GetTypes())
            {
                if (type.ContainsGenericParameters) continue;
                foreach (var method in type.GetMethods(all).Cast<System.Reflection.MethodBase>().Concat(type.GetConstructors(all)))
                {
                    if (method.IsAbstract || method.ContainsGenericParameters || method.GetMethodBody() is null) continue;
                    try
                    {
                        System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(method.MethodHandle);
                        compiled++;
                    }
                    catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidOperationException or BadImageFormatException) { }
                }
            }
        }
        return compiled;
    }

    async Task RunAsync(CancellationToken cancel)
    {
        var delay = StartDelay;
        try
        {
            await Task.Delay(StartDelay, cancel);
            while (!cancel.IsCancellationRequested)
            {
                var waited = await PauseInTheMusicAsync(cancel);
                var started = Stopwatch.StartNew();
                Process? process = Start(waited);
                if (process is null) return; // disposed meanwhile
                await process.WaitForExitAsync(cancel);
                _log($"spare engine (pid {process.Id}) exited with code {process.ExitCode} after {started.Elapsed.TotalSeconds:0.#} s; next in {delay.TotalSeconds:0.#} s");
                delay = started.Elapsed >= MaxRestartDelay ? StartDelay : delay;
                await Task.Delay(delay, cancel);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRestartDelay.Ticks));
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested) { }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
        {
            _log($"no spare engine: {e.Message}");
        }
    }

    /// <summary>Returns once the music has paused for <see cref="QuietTime"/>, or after <see cref="MaxDeferral"/>; how long it waited.</summary>
    static async Task<TimeSpan> PauseInTheMusicAsync(CancellationToken cancel)
    {
        var waited = Stopwatch.StartNew();
        while (Streaming.ModelActivity.QuietFor < QuietTime && waited.Elapsed < MaxDeferral)
            await Task.Delay(QuietPoll, cancel);
        return waited.Elapsed;
    }

    Process? Start(TimeSpan waited)
    {
        var info = new ProcessStartInfo(_command[0]) { UseShellExecute = false }; // stdin, stdout, stderr: ours (the log)
        foreach (var argument in _command.Skip(1)) info.ArgumentList.Add(argument);
        lock (_gate)
        {
            if (_disposed) return null;
            _process?.Dispose();
            _process = Process.Start(info) ?? throw new InvalidOperationException($"{_command[0]} did not start");
            _log($"spare engine started (pid {_process.Id}) after {waited.TotalSeconds:0.0} s waiting for a pause in the music: it takes over if this engine (pid {Environment.ProcessId}) dies");
            return _process;
        }
    }

    /// <summary>Kills the spare (SIGKILL: it holds nothing) and waits for it, before the caller lets the lock go.</summary>
    public void Dispose()
    {
        Process? process;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            process = _process;
        }
        _stop.Cancel();
        if (process is not null)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException) { } // it had exited
            process.Dispose();
        }
        try { _run.Wait(5000); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
