using Sostenuto.Engine.Tests.Tools;
using System.Collections.Concurrent;
using System.Diagnostics;

namespace Sostenuto.Engine.Tests.Cli;

/// <summary>What one run of the CLI did.</summary>
public sealed record CliResult(IReadOnlyList<string> Args, int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    /// <summary>stderr split into lines (a final newline does not start another line).</summary>
    public string[] StderrLines => Stderr.Length == 0 ? [] : Stderr.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');

    public override string ToString() =>
        $"sostenuto {string.Join(' ', Args)} -> exit {ExitCode} in {Elapsed.TotalSeconds:0.0} s\n--- stdout\n{Stdout}--- stderr\n{Stderr}---";
}

/// <summary>
/// Runs the real CLI, <c>dotnet sostenuto.dll ...</c>, built into the test output folder by the
/// test project's reference to engine/Sostenuto.Cli, as a separate process with a timeout.
/// </summary>
public static class CliRunner
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "sostenuto.dll");

    /// <summary>The dotnet host the tests run under (the test platform says which), else the one on PATH.</summary>
    static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Runs <c>sostenuto ARGS</c> in the repository root (so <c>examples/demo.mid</c> resolves as in the docs).</summary>
    public static CliResult Run(params string[] args) => RunIn(RepositoryPaths.Root, args);

    public static CliResult RunIn(string workingDirectory, params string[] args) => RunWith(workingDirectory, null, args);

    /// <summary>As <see cref="RunIn"/>, with environment variables set (or removed, for a null value) for the run.</summary>
    public static CliResult RunWith(string workingDirectory, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        Assert.True(File.Exists(DllPath), $"{DllPath} is missing: the test project must reference engine/Sostenuto.Cli");
        var start = new ProcessStartInfo(DotnetHost)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(DllPath);
        foreach (var a in args) start.ArgumentList.Add(a);
        // The default model must come from the checkout, whatever the environment of the test run says.
        start.Environment.Remove("SOSTENUTO_MODEL");
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }

        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit();
            Assert.Fail($"sostenuto {string.Join(' ', args)} did not finish within {Timeout.TotalSeconds} s");
        }
        process.WaitForExit(); // drains the redirected streams
        return new CliResult(args, process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult(), watch.Elapsed);
    }
}

/// <summary>
/// Shared by the CLI tests: a scratch folder, and renders of examples/demo.mid memoised by their
/// options, so tests that look at the same file from different angles pay for one render.
/// </summary>
public sealed class CliFixture : IDisposable
{
    readonly TempDirectory _temp = new("sostenuto-cli");
    readonly ConcurrentDictionary<string, Lazy<(CliResult Result, string Path)>> _renders = new();
    int _next;

    public string Scratch => _temp.Path;

    /// <summary>A fresh path in the scratch folder.</summary>
    public string NewPath(string name) => _temp.File($"{Interlocked.Increment(ref _next):D3}-{name}");

    /// <summary>A fresh empty folder in the scratch folder.</summary>
    public string NewFolder(string name)
    {
        var dir = NewPath(name);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary><c>render examples/demo.mid -o PATH --model FIXTURE OPTIONS</c>, once per distinct option list;
    /// asserts success. The small fixture keeps these tests about the command line, not the instrument.</summary>
    public (CliResult Result, string Path) Demo(params string[] options) =>
        _renders.GetOrAdd(string.Join('\u0001', options), _ => new(() =>
        {
            var path = NewPath("demo.wav");
            var result = CliRunner.Run(["render", "examples/demo.mid", "-o", path, "--model", RepositoryPaths.FixtureModel, .. options]);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.True(File.Exists(path), result.ToString());
            return (result, path);
        })).Value;

    public void Dispose() => _temp.Dispose();
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CliCollection : ICollectionFixture<CliFixture>
{
    // Renders use both cores of the machine; running them next to other tests only makes everything slower.
    public const string Name = "CLI processes";
}
