using System.Diagnostics;
using Sostenuto.Cli;
using Sostenuto.Engine.Onnx;
using Sostenuto.Engine.Tests.Onnx;

namespace Sostenuto.Engine.Tests.Cli;

/// <summary><c>sostenuto onnx-run</c>, the way training/export_piano.py drives it: .npz requests on stdin, one answer line each.</summary>
public class OnnxRunCommandTests
{
    [Fact]
    public void Npz_round_trips_float32_and_int64_arrays()
    {
        string path = Path.Combine(Directory.CreateTempSubdirectory("sostenuto-npz-").FullName, "a.npz");
        Npz.Write(path, [("x", new Npz.Array(new float[] { 1.5f, -2, 3, 4, 5, 6 }, [2, 3])), ("ids", new Npz.Array(new long[] { 7, -8 }, [2]))]);

        var read = Npz.Read(path);

        Assert.Equal(new float[] { 1.5f, -2, 3, 4, 5, 6 }, (float[])read["x"].Data);
        Assert.Equal([2L, 3L], read["x"].Shape);
        Assert.Equal(new long[] { 7, -8 }, (long[])read["ids"].Data);
        Assert.Equal([2L], read["ids"].Shape);
    }

    [Fact]
    public void Serves_requests_with_the_numbers_of_a_prepared_run_and_answers_errors_in_one_line()
    {
        string dir = Directory.CreateTempSubdirectory("sostenuto-onnx-run-").FullName;
        float[] xs = [1, 2, 3, -1, 0.5f, 0.25f];
        float[] ys = [10, 20, 30, 40];
        string input = Path.Combine(dir, "in.npz"), output = Path.Combine(dir, "out.npz");
        Npz.Write(input, [("x", new Npz.Array(xs, [2, 3])), ("y", new Npz.Array(ys, [2, 2]))]);

        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add(CliRunner.DllPath);
        start.ArgumentList.Add("onnx-run");
        start.ArgumentList.Add(OnnxFixtures.Model("add_matmul.onnx"));
        using var process = Process.Start(start)!;
        process.StandardInput.WriteLine($"{input}\t{output}");
        Assert.Equal("ok", process.StandardOutput.ReadLine());
        process.StandardInput.WriteLine($"{Path.Combine(dir, "missing.npz")}\t{output}");
        Assert.StartsWith("error: ", process.StandardOutput.ReadLine());
        process.StandardInput.Close();
        Assert.True(process.WaitForExit(CliRunner.Timeout));
        Assert.Equal(0, process.ExitCode);

        using var session = new OnnxSession(OnnxFixtures.Model("add_matmul.onnx"));
        using var run = session.Prepare(["x", "y"], ["out"]);
        using var x = OrtTensor<float>.Create([2, 3], xs);
        using var y = OrtTensor<float>.Create([2, 2], ys);
        using var expected = new OrtTensor<float>(2, 2);
        run.SetInput(0, x);
        run.SetInput(1, y);
        run.SetOutput(0, expected);
        run.Run();
        var result = Npz.Read(output)["out"];
        Assert.Equal(expected.Span.ToArray(), (float[])result.Data);
        Assert.Equal([2L, 2L], result.Shape);
    }
}
