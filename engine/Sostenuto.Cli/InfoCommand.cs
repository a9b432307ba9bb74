using System.CommandLine;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Streaming;

namespace Sostenuto.Cli;

/// <summary><c>sostenuto info [--model DIR]</c>: loads and validates a package and prints its contract.</summary>
static class InfoCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "model package folder (default: the embedded model)" };
        var command = new Command("info", "Validate a model package and print its contract") { model };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(model) ?? ModelLocator.DefaultModelDirectory();
            using var package = ModelPackage.Load(dir);
            Print(package);
            return 0;
        });
        return command;
    }

    static void Print(ModelPackage package)
    {
        var m = package.Manifest;
        double frameMs = 1000.0 * m.HopLength / m.SampleRate;
        Console.WriteLine($"model       {m.Name} {m.Version}{(m.Untrained ? "  (UNTRAINED FIXTURE: exercises the contract, does not sound like an instrument)" : "")}");
        Console.WriteLine($"folder      {Path.GetFullPath(package.Directory)}");
        if (m.Description.Length > 0) Console.WriteLine($"about       {m.Description}");
        Console.WriteLine($"license     {m.License}");
        foreach (var s in m.Sources) Console.WriteLine($"source      {s.Name} ({s.License})");
        Console.WriteLine($"audio       {m.SampleRate} Hz, {m.Channels} channel(s), hop {m.HopLength} samples = {frameMs:0.##} ms per frame ({(double)m.SampleRate / m.HopLength:0.##} frames/s)");
        Console.WriteLine($"codec       {m.Codebooks} codebooks x {m.CodebookSize} tokens; silence = [{string.Join(", ", m.SilenceTokens)}]");
        Console.WriteLine($"lookahead   {m.LookaheadFrames} frames ({m.LookaheadFrames * frameMs:0.##} ms)");
        Console.WriteLine($"features    {string.Join(", ", m.Features.Select(ConditioningFeatures.ManifestName))} ({m.ConditioningSize} values per frame)");
        Console.WriteLine($"sampling    temperature {m.Sampling.Temperature}, top-k {m.Sampling.TopK}, top-p {m.Sampling.TopP}");
        PrintNetwork("lm", m.Lm);
        Console.WriteLine($"decoder     window {m.Decoder.WindowFrames} frames, chunk {m.Decoder.ChunkFrames}, overlap {m.Decoder.OverlapFrames}{(m.Decoder.OverlapFrames > 0 ? " (cross-faded)" : "")}, left context {m.Decoder.LeftContextFrames}");
        PrintNetwork("decoder", m.Decoder);
        using var session = new RenderSession(package, new RenderSettings(48000));
        Console.WriteLine($"latency     {session.LatencySamples} samples at 48 kHz ({1000.0 * session.LatencySamples / 48000:0.#} ms): lookahead + chunk + overlap + resampler");
    }

    static void PrintNetwork(string label, NetworkSpec spec)
    {
        Console.WriteLine($"{label,-11} {spec.File}");
        foreach (var t in spec.Inputs) Console.WriteLine($"  in  {t.Name,-14} {t.Role,-13} {ModelManifestParser.TypeName(t.Type),-8} {t.ShapeText}{(t.StateOutput is null ? "" : $" -> {t.StateOutput}")}");
        foreach (var t in spec.Outputs) Console.WriteLine($"  out {t.Name,-14} {t.Role,-13} {ModelManifestParser.TypeName(t.Type),-8} {t.ShapeText}");
    }
}
