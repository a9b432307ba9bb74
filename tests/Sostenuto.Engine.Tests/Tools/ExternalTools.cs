using System.ComponentModel;
using System.Diagnostics;

namespace Sostenuto.Engine.Tests.Tools;

/// <summary>
/// Runs the reference tools the file tests compare against (python3 with mido, sox, fluidsynth).
/// They are Debian packages installed by scripts/setup.sh; a missing tool fails the test with
/// that instruction instead of an obscure process error.
/// </summary>
internal static class ExternalTools
{
    public const string Python = "/usr/bin/python3";
    public const string SoundFont = "/usr/share/sounds/sf2/FluidR3_GM.sf2";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>Runs a Python script (passed inline) with arguments; returns its standard output as text.</summary>
    public static string RunPython(string script, params string[] arguments) =>
        System.Text.Encoding.UTF8.GetString(Run(Python, ["-c", script, .. arguments]));

    /// <summary>Runs a tool and returns its standard output; fails with stderr when it exits non-zero.</summary>
    public static byte[] Run(string tool, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException(
                $"{tool} is not installed ({e.Message}). Run scripts/setup.sh, which installs python3-mido, sox, fluidsynth and fluid-soundfont-gm.", e);
        }

        using (process)
        {
            var output = new MemoryStream();
            var copyOutput = process.StandardOutput.BaseStream.CopyToAsync(output);
            var readError = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{tool} did not finish within {Timeout.TotalSeconds} s");
            }
            Task.WaitAll(copyOutput, readError);
            if (process.ExitCode != 0)
            {
                string hint = readError.Result.Contains("No module named 'mido'")
                    ? " (python3-mido is missing: run scripts/setup.sh)"
                    : "";
                throw new InvalidOperationException(
                    $"{tool} {string.Join(' ', start.ArgumentList.Select(Abbreviate))} exited with {process.ExitCode}{hint}:\n{readError.Result}");
            }
            return output.ToArray();
        }
    }

    public static void RequireFile(string path, string package)
    {
        if (!File.Exists(path))
            throw new InvalidOperationException($"{path} is missing: run scripts/setup.sh (Debian package {package})");
    }

    /// <summary>Reads raw native-endian doubles, as written by `sox ... -t f64 -`.</summary>
    public static double[] SoxSamples(string wavPath)
    {
        var bytes = Run("sox", [wavPath, "-t", "f64", "-"]);
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(bytes).ToArray();
    }

    /// <summary>One field of `sox --i`: "-r" rate, "-c" channels, "-b" bits, "-e" encoding, "-s" samples.</summary>
    public static string SoxInfo(string wavPath, string field) =>
        System.Text.Encoding.UTF8.GetString(Run("sox", ["--i", field, wavPath])).Trim();

    private static string Abbreviate(string argument) =>
        argument.Length > 60 ? argument[..60].ReplaceLineEndings(" ") + "..." : argument;
}
