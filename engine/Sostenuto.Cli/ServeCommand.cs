using System.CommandLine;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Onnx;
using Sostenuto.Engine.Serving;

namespace Sostenuto.Cli;

/// <summary><c>sostenuto serve</c>: the engine process that plug-in instances connect to.</summary>
static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "model package folder (default: the embedded model)" };
        var socket = new Option<string?>("--socket") { Description = "Unix socket path (default: $XDG_RUNTIME_DIR or /tmp/sostenuto-UID, then sostenuto-engine.sock)" };
        var idle = new Option<double>("--idle-exit") { Description = "exit after this many seconds with no instance connected (0 = never)", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads per model call", DefaultValueFactory = _ => 1 };
        var device = DeviceOption.Create();
        var spare = new Option<bool>("--spare") { Description = "keep a warm spare engine (a second process, loaded and waiting) that takes over the socket within milliseconds if this one dies; the plug-in's launcher asks for it" };
        var standby = new Option<bool>(EngineSpare.StandbyOption) { Description = "start as a spare: load the model, then wait until the engine serving the socket exits, and take over", Hidden = true };
        var command = new Command("serve", "Serve plug-in instances over the local pipe") { model, socket, idle, threads, device, spare, standby };
        command.SetAction(async (parse, cancel) =>
        {
            void Log(string line) => Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {line}");
            // The socket's folder first: a refused runtime directory is reported before the model is loaded.
            var socketPath = parse.GetValue(socket) ?? RuntimePaths.DefaultSocketPath();
            var options = new SessionSettings
            {
                IntraOpThreads = Math.Clamp(parse.GetValue(threads), 1, 64),
                Device = DeviceOption.Parse(parse.GetValue(device)!),
                Log = Log,
            };
            bool isStandby = parse.GetValue(standby);
            string me = $"standby (pid {Environment.ProcessId})";
            // A spare claims its place before it loads anything: one spare per socket (EngineLock).
            var standbyClaim = isStandby ? EngineLock.TryTakeStandby(socketPath) : null;
            if (isStandby && standbyClaim is null)
            {
                Log($"{me}: another spare stands by for {socketPath}; exiting");
                return 0;
            }
            using var claim = standbyClaim;
            using var package = ModelPackage.Load(parse.GetValue(model) ?? ModelLocator.DefaultModelDirectory(), options);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            EngineLock? heldLock = null;
            if (isStandby)
            {
                // Everything a first live session compiles is compiled now, while the engine it stands by for plays.
                SpeculativeRingWriter.WarmUp(package);
                int compiled = EngineSpare.CompileEngineCode(typeof(EngineServer).Assembly, typeof(ServeCommand).Assembly);
                Log($"{me}: loaded and warm ({compiled} methods compiled); takes over {socketPath} if its engine dies");
                try { heldLock = await EngineLock.WaitAsync(socketPath, stop.Token); }
                catch (OperationCanceledException) { return 0; }
                // An engine that exits on purpose removes its socket before it lets the lock go (and kills its own
                // spare first); a spare left over from an earlier engine must not revive the socket after that.
                if (!File.Exists(socketPath))
                {
                    heldLock.Dispose();
                    Log($"{me}: the engine exited on purpose; not taking over");
                    return 0;
                }
                Log($"{me}: taking over {socketPath}");
            }
            double idleSeconds = parse.GetValue(idle);
            using var server = new EngineServer(package, socketPath, Log,
                idleSeconds > 0 ? TimeSpan.FromSeconds(idleSeconds) : null, heldLock: heldLock);
            claim?.Dispose(); // listening now: the next spare may claim its place
            // Declared after the server, so it is disposed (killed) before the server lets the lock go.
            using var keeper = parse.GetValue(spare) ? new EngineSpare(EngineSpare.CommandOfThisProcess(), Log) : null;
            await server.RunAsync(stop.Token);
            Sostenuto.Engine.Diagnostics.EngineProfile.WriteNow();
            return 0;
        });
        return command;
    }
}
