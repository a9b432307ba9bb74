using System.CommandLine;
using System.Runtime.InteropServices;
using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Onnx;
using Sostenuto.Engine.Streaming;

namespace Sostenuto.Cli;

/// <summary><c>sostenuto render IN.mid -o OUT.wav</c>: a bounce, through the same session code a plug-in instance uses.</summary>
static class RenderCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("input") { Description = "Standard MIDI File to render" };
        var output = new Option<string>("--output", "-o") { Description = "WAV file to write", Required = true };
        var model = new Option<string?>("--model", "-m") { Description = "model package folder (default: the embedded model)" };
        var rate = new Option<int>("--rate", "-r") { Description = "output sample rate in Hz (44100, 48000, 88200 or 96000)", DefaultValueFactory = _ => 48000 };
        var seed = new Option<ulong>("--seed") { Description = "sampling seed: the same seed and input give the same file", DefaultValueFactory = _ => 0 };
        var temperature = new Option<float?>("--temperature", "-t") { Description = "sampling temperature (default: the model's)" };
        var topK = new Option<int?>("--top-k") { Description = "keep the k likeliest tokens (0 = all; default: the model's)" };
        var topP = new Option<float?>("--top-p") { Description = "nucleus sampling mass in (0, 1] (default: the model's)" };
        var format = new Option<string>("--format", "-f") { Description = "pcm16, pcm24 or float", DefaultValueFactory = _ => "pcm24" };
        var maxLength = new Option<double>("--max-length") { Description = $"refuse MIDI files longer than this, in seconds (a huge delta time would otherwise write until the 4 GiB WAV limit)", DefaultValueFactory = _ => DefaultMaxLengthSeconds };
        var tail = new Option<double>("--max-tail") { Description = "longest release tail after the last event, in seconds", DefaultValueFactory = _ => 10.0 };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads per model call", DefaultValueFactory = _ => 1 };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "no progress bar or summary" };
        var device = DeviceOption.Create();

        var command = new Command("render", "Render a MIDI file to a WAV file") { input, output, model, rate, seed, temperature, topK, topP, format, maxLength, tail, threads, quiet, device };
        command.SetAction(parse =>
        {
            int sampleRate = parse.GetValue(rate);
            if (!RenderSettings.SupportedRates.Contains(sampleRate))
                throw new CliUsageException($"--rate {sampleRate}: supported rates are {string.Join(", ", RenderSettings.SupportedRates)} Hz");
            var sampleFormat = parse.GetValue(format) switch
            {
                "pcm16" => WavSampleFormat.Pcm16,
                "pcm24" => WavSampleFormat.Pcm24,
                "float" => WavSampleFormat.Float32,
                var other => throw new CliUsageException($"--format {other}: use pcm16, pcm24 or float"),
            };
            double maxTail = parse.GetValue(tail);
            if (!(maxTail >= 0 && maxTail <= 600)) throw new CliUsageException($"--max-tail {maxTail}: must be between 0 and 600 seconds");

            double lengthCap = parse.GetValue(maxLength);
            if (!(lengthCap > 0 && lengthCap <= MaxLengthSeconds)) throw new CliUsageException($"--max-length {lengthCap}: must be above 0 and at most {MaxLengthSeconds} seconds");

            int threadCount = parse.GetValue(threads);
            if (threadCount is < 1 or > 64) throw new CliUsageException($"--threads {threadCount}: must be between 1 and 64");

            // SIGINT and SIGTERM stop the render where it is, and the temporary WAV is removed (the using blocks below).
            using var interrupt = new CancellationTokenSource();
            string? signalName = null;
            int signalExit = 0;
            void OnSignal(PosixSignalContext c, string name, int exit)
            {
                c.Cancel = true; // no immediate exit: unwind, so that the writer deletes its temporary file
                signalName ??= name;
                if (signalExit == 0) signalExit = exit;
                interrupt.Cancel();
            }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => OnSignal(c, "SIGINT", 130));
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => OnSignal(c, "SIGTERM", 143));
            using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => OnSignal(c, "SIGHUP", 129));

            var computeDevice = DeviceOption.Parse(parse.GetValue(device)!);

            var midi = MidiFile.Read(parse.GetValue(input)!);
            if (midi.DurationSeconds > lengthCap)
                throw new CliUsageException($"{parse.GetValue(input)} lasts {midi.DurationSeconds:0.#} s, longer than --max-length {lengthCap:0.#} s (raise it to render the whole file)");
            // The execution-provider choice goes into the summary, so that a failure stays one line
            // on stderr; a CUDA fallback the user asked about (--device cuda) is printed at once.
            var notes = new List<string>();
            var sessionOptions = new SessionSettings
            {
                IntraOpThreads = threadCount,
                Device = computeDevice,
                Log = line => { if (computeDevice == ComputeDevice.Cuda) Console.Error.WriteLine(line); else notes.Add(line); },
            };
            using var package = ModelPackage.Load(parse.GetValue(model) ?? ModelLocator.DefaultModelDirectory(), sessionOptions);
            var defaults = package.Manifest.Sampling;
            var sampling = new SamplingSettings(
                parse.GetValue(temperature) ?? defaults.Temperature,
                parse.GetValue(topK) ?? defaults.TopK,
                parse.GetValue(topP) ?? defaults.TopP);
            if (!(sampling.Temperature > 0 && sampling.Temperature <= 100)) throw new CliUsageException($"--temperature {sampling.Temperature}: must be in (0, 100]");
            if (sampling.TopK < 0) throw new CliUsageException($"--top-k {sampling.TopK}: must be 0 or more");
            if (!(sampling.TopP > 0 && sampling.TopP <= 1)) throw new CliUsageException($"--top-p {sampling.TopP}: must be in (0, 1]");

            bool showProgress = !parse.GetValue(quiet) && !Console.IsErrorRedirected;
            var outputPath = parse.GetValue(output)!;
            using var session = new RenderSession(package, new RenderSettings(sampleRate, parse.GetValue(seed), sampling, ReuseUnchangedWork: RenderSettings.ReuseFromEnvironment, HonourRest: RenderSettings.RestFromEnvironment));
            var events = OfflineRender.ToHostEvents(midi.Messages.Select(m => (m.Seconds, m.Message)), sampleRate);
            long end = (long)Math.Round(midi.DurationSeconds * sampleRate);

            RenderSummary summary;
            var interleaved = new float[2 * 4096];
            if (interrupt.IsCancellationRequested) return Interrupted(signalName!, signalExit);
            try
            {
                using (var writer = WavWriter.Create(outputPath, sampleRate, 2, sampleFormat))
                using (var bar = showProgress ? new ProgressBar("rendering") : null)
                {
                    summary = OfflineRender.Run(session, events, end, maxTail, (l, r) =>
                    {
                        interrupt.Token.ThrowIfCancellationRequested();
                        for (int start = 0; start < l.Length; start += 4096)
                        {
                            int n = Math.Min(4096, l.Length - start);
                            for (int i = 0; i < n; i++) { interleaved[2 * i] = l[start + i]; interleaved[2 * i + 1] = r[start + i]; }
                            writer.Write(interleaved.AsSpan(0, 2 * n));
                        }
                    }, bar is null ? null : bar.Report);
                    interrupt.Token.ThrowIfCancellationRequested();
                    writer.Complete(); // only a finished render replaces the output file
                }
            }
            catch (OperationCanceledException) when (interrupt.IsCancellationRequested) { return Interrupted(signalName!, signalExit); }

            if (!parse.GetValue(quiet))
            {
                var m = package.Manifest;
                Console.Error.WriteLine($"wrote {outputPath}: {summary.DurationSeconds:0.00} s at {sampleRate} Hz, {parse.GetValue(format)}, stereo");
                Console.Error.WriteLine($"model {m.Name} {m.Version}{(m.Untrained ? " (untrained fixture)" : "")}, seed {parse.GetValue(seed)}, {events.Length} MIDI events");
                foreach (var note in notes) Console.Error.WriteLine(note);
                Console.Error.WriteLine($"rendered in {summary.WallTime.TotalSeconds:0.00} s: {summary.RealTimeFactor:0.0}x real time; peak {summary.PeakDbfs:0.0} dBFS{(summary.Peak > 1 ? " (CLIPPED)" : "")}");
            }
            if (Sostenuto.Engine.Diagnostics.EngineProfile.Enabled)
            {
                Sostenuto.Engine.Diagnostics.EngineProfile.WriteNow();
                Console.Error.Write("profile (section seconds count):\n" + Sostenuto.Engine.Diagnostics.EngineProfile.Report());
            }
            return 0;
        });
        return command;
    }

    /// <summary>
    /// --max-length's default: one hour, which fits the 4 GiB RIFF limit in every format at every supported rate
    /// (96 kHz float stereo: 2.8 GB).
    /// </summary>
    public const double DefaultMaxLengthSeconds = 3600;

    /// <summary>The most --max-length allows: 12 hours (a longer file would pass the RIFF limit in any format).</summary>
    public const double MaxLengthSeconds = 12 * 3600;

    static int Interrupted(string signal, int exitCode)
    {
        Console.Error.WriteLine($"sostenuto: interrupted by {signal}; nothing written");
        return exitCode;
    }
}
