using System.CommandLine;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Sostenuto.Engine.Onnx;

namespace Sostenuto.Cli;

/// <summary>
/// <c>sostenuto onnx-run MODEL.onnx</c>: runs one ONNX model with the engine's ONNX Runtime and
/// session settings, for training's export checks (training/export_piano.py), so that they test
/// the library a render uses without a second binding of it. A request is a line on stdin,
/// <c>IN.npz&lt;TAB&gt;OUT.npz</c>: every array in IN.npz is fed by its name, every model output is
/// written to OUT.npz, and the answer is one line on stdout, <c>ok</c> or <c>error: …</c>. The
/// process serves requests until stdin closes, so a check of many steps loads the model once.
/// </summary>
static class OnnxRunCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "the .onnx file" };
        var command = new Command("onnx-run", "Run an ONNX model on .npz feeds read from stdin requests (training's export checks)") { model };
        command.SetAction(parse =>
        {
            using var session = new OnnxSession(parse.GetValue(model)!, new SessionSettings { Device = ComputeDevice.Cpu });
            string? line;
            while ((line = Console.In.ReadLine()) is not null)
            {
                if (line.Length == 0) continue;
                try
                {
                    var paths = line.Split('\t');
                    if (paths.Length != 2) throw new CliUsageException("a request is IN.npz<TAB>OUT.npz");
                    Run(session, paths[0], paths[1]);
                    Console.Out.WriteLine("ok");
                }
                catch (Exception e) when (CliErrors.IsUserFacing(e) || e is InvalidDataException or ArgumentException)
                {
                    Console.Out.WriteLine($"error: {CliErrors.OneLine(e)}");
                }
                Console.Out.Flush();
            }
            return 0;
        });
        return command;
    }

    static void Run(OnnxSession session, string inputPath, string outputPath)
    {
        var feeds = Npz.Read(inputPath);
        var names = feeds.Keys.ToArray();
        var values = new List<OrtValue>();
        try
        {
            foreach (var name in names)
            {
                var (data, shape) = (feeds[name].Data, feeds[name].Shape);
                values.Add(data is float[] f ? OrtValue.CreateTensorValueFromMemory(f, shape) : OrtValue.CreateTensorValueFromMemory((long[])data, shape));
            }
            var outputNames = session.Outputs.Select(o => o.Name).ToArray();
            using var results = session.RunOnce(names, values, outputNames);
            Npz.Write(outputPath, outputNames.Zip(results, (name, value) => (name, ToArray(value))));
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    static Npz.Array ToArray(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        System.Array data = info.ElementDataType switch
        {
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray(),
            var other => throw new InvalidDataException($"output of element type {other} is not supported (float32 or int64)"),
        };
        return new Npz.Array(data, info.Shape);
    }
}
