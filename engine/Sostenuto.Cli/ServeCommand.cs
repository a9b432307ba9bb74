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
        var command = new Command("serve", "Serve plug-in instances over the local pipe") { model, socket, idle, threads, device };
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
            using var package = ModelPackage.Load(parse.GetValue(model) ?? ModelLocator.DefaultModelDirectory(), options);
            double idleSeconds = parse.GetValue(idle);
            using var server = new EngineServer(package, socketPath, Log,
                idleSeconds > 0 ? TimeSpan.FromSeconds(idleSeconds) : null);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            await server.RunAsync(stop.Token);
            Sostenuto.Engine.Diagnostics.EngineProfile.WriteNow();
            return 0;
        });
        return command;
    }
}
