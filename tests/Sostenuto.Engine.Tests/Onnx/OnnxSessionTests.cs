using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Sostenuto.Engine.Onnx;

namespace Sostenuto.Engine.Tests.Onnx;

public class OnnxSessionTests
{
    private static OnnxSession Open(string fixture, List<string>? log = null) =>
        new(OnnxFixtures.Model(fixture), new SessionSettings { Log = log is null ? null : log.Add });

    [Fact]
    public void Metadata_reports_names_types_shapes_and_symbolic_dims()
    {
        using var session = Open("add_matmul.onnx");

        Assert.Equal(["x", "y"], session.Inputs.Select(i => i.Name));
        Assert.Equal(["out"], session.Outputs.Select(o => o.Name));

        var x = session.Inputs[0];
        Assert.Equal(TensorElementType.Float, x.ElementType);
        Assert.Equal([-1L, 3L], x.Shape);
        Assert.Equal(["batch", ""], x.SymbolicDimensions);
        Assert.Equal("x: Float[batch, 3]", x.ToString());

        var output = session.Outputs[0];
        Assert.Equal([-1L, 2L], output.Shape);
        Assert.Equal("batch", output.SymbolicDimensions[0]);
    }

    [Fact]
    public void Metadata_reports_integer_element_types()
    {
        using var session = Open("int_to_float.onnx");

        Assert.Equal(TensorElementType.Int64, session.Inputs[0].ElementType);
        Assert.Equal([4L], session.Inputs[0].Shape);
        Assert.Equal([""], session.Inputs[0].SymbolicDimensions);
        Assert.Equal(TensorElementType.Int32, session.Inputs[1].ElementType);
        Assert.Equal(TensorElementType.Float, session.Outputs[0].ElementType);
    }

    [Fact]
    public void Missing_model_file_is_an_OnnxRuntimeException_naming_the_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sostenuto-missing-{Guid.NewGuid():N}.onnx");

        var ex = Assert.Throws<OnnxRuntimeException>(() => new OnnxSession(path));

        Assert.Equal("NoSuchFile", OnnxErrors.Code(ex));
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void Garbage_model_file_is_an_OnnxRuntimeException_naming_the_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sostenuto-garbage-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, [0x08, 0xFF, 0xFF, 0xFF, 0x12, 0x34, 0x56, 0x78, 0x9A]);
        try
        {
            var ex = Assert.Throws<OnnxRuntimeException>(() => new OnnxSession(path));

            Assert.Equal("InvalidProtobuf", OnnxErrors.Code(ex));
            Assert.Contains(path, ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void The_native_library_is_the_release_of_the_managed_package()
    {
        // A stale libonnxruntime.so from elsewhere on the loader path would show up here.
        string managed = typeof(InferenceSession).Assembly.GetName().Version!.ToString(3);

        Assert.Equal(managed, OnnxEnvironment.Version);
    }

    [Fact]
    public void Cuda_falls_back_to_cpu_with_one_log_line_when_unavailable()
    {
        if (OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider"))
            return; // the CUDA build is installed here; its fallback needs a machine without a GPU
        var log = new List<string>();

        using var session = new OnnxSession(OnnxFixtures.Model("state.onnx"), new SessionSettings { Device = ComputeDevice.Cuda, Log = log.Add });

        Assert.False(session.UsesCuda);
        var line = Assert.Single(log);
        Assert.StartsWith("onnx: CUDA not available (", line);
        Assert.EndsWith("; running on CPU", line);
    }

    [Fact]
    public void Options_without_cuda_log_nothing()
    {
        var log = new List<string>();
        using var session = new OnnxSession(OnnxFixtures.Model("state.onnx"), new SessionSettings { Device = ComputeDevice.Cpu, IntraOpThreads = 2, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, Log = log.Add });

        Assert.False(session.UsesCuda);
        Assert.Empty(log);
    }

    [Fact]
    public void Prepare_rejects_unknown_missing_and_duplicate_names()
    {
        using var session = Open("add_matmul.onnx");

        var unknown = Assert.Throws<ArgumentException>(() => session.Prepare(["x", "z"], ["out"]));
        Assert.Contains("no input named 'z'", unknown.Message);
        Assert.Contains("x: Float[batch, 3]", unknown.Message); // lists what exists

        var missing = Assert.Throws<ArgumentException>(() => session.Prepare(["x"], ["out"]));
        Assert.Contains("missing: y", missing.Message);

        var dup = Assert.Throws<ArgumentException>(() => session.Prepare(["x", "y", "x"], ["out"]));
        Assert.Contains("listed twice", dup.Message);

        var badOut = Assert.Throws<ArgumentException>(() => session.Prepare(["x", "y"], ["nope"]));
        Assert.Contains("no output named 'nope'", badOut.Message);
    }

    [Fact]
    public void Binding_rejects_wrong_element_type_and_shape()
    {
        using var session = Open("add_matmul.onnx");
        using var run = session.Prepare(["x", "y"], ["out"]);
        using var ints = new OrtTensor<int>(2, 3);
        using var wrongRank = new OrtTensor<float>(6);
        using var wrongDim = new OrtTensor<float>(2, 4);
        using var ok = new OrtTensor<float>(5, 3); // batch is dynamic: any size fits

        var type = Assert.Throws<ArgumentException>(() => run.SetInput(0, ints));
        Assert.Contains("expects Float elements, got a Int32 tensor", type.Message);
        var rank = Assert.Throws<ArgumentException>(() => run.SetInput(0, wrongRank));
        Assert.Contains("declared as x: Float[batch, 3], got shape [6]", rank.Message);
        Assert.Throws<ArgumentException>(() => run.SetInput(0, wrongDim));
        Assert.Throws<ArgumentOutOfRangeException>(() => run.SetInput(2, ok));
        run.SetInput(0, ok);
    }

    [Fact]
    public void Mismatched_dynamic_dims_are_reported_by_ort_with_its_code_and_message()
    {
        using var session = Open("add_matmul.onnx");
        using var run = session.Prepare(["x", "y"], ["out"]);
        using var x = new OrtTensor<float>(2, 3);
        using var y = new OrtTensor<float>(3, 2); // batch 3 vs 2: only knowable at run time
        using var output = new OrtTensor<float>(2, 2);
        run.SetInput(0, x);
        run.SetInput(1, y);
        run.SetOutput(0, output);

        var ex = Assert.Throws<OnnxRuntimeException>(run.Run);

        Assert.Equal("InvalidArgument", OnnxErrors.Code(ex));
        Assert.Contains("Non-zero status code returned while running", ex.Message); // ORT's own text
    }

    [Fact]
    public void A_preallocated_output_of_the_wrong_runtime_shape_is_an_OnnxRuntimeException()
    {
        using var session = Open("add_matmul.onnx");
        using var run = session.Prepare(["x", "y"], ["out"]);
        using var x = new OrtTensor<float>(2, 3);
        using var y = new OrtTensor<float>(2, 2);
        using var output = new OrtTensor<float>(3, 2); // fits the declaration [batch, 2], not this run
        run.SetInput(0, x);
        run.SetInput(1, y);
        run.SetOutput(0, output);

        var ex = Assert.Throws<OnnxRuntimeException>(run.Run);

        Assert.Equal("InvalidArgument", OnnxErrors.Code(ex));
        Assert.Contains("has shape {3,2} but the computed output shape for this run is {2,2}", ex.Message);
    }

    [Fact]
    public void Running_with_an_unbound_slot_says_which()
    {
        using var session = Open("state.onnx");
        using var run = session.Prepare(["state_in", "x"], ["state_out"]);
        using var t = new OrtTensor<float>(1, 8);
        run.SetInput(0, t);
        run.SetOutput(0, new OrtTensor<float>(1, 8));

        var ex = Assert.Throws<InvalidOperationException>(run.Run);
        Assert.Contains("input 1 has no tensor bound", ex.Message);
    }

    [Fact]
    public void Disposed_objects_fail_cleanly()
    {
        var session = Open("state.onnx");
        var run = session.Prepare(["state_in", "x"], ["state_out"]);
        var a = new OrtTensor<float>(1, 8);
        using var b = new OrtTensor<float>(1, 8);
        using var c = new OrtTensor<float>(1, 8);
        run.SetInput(0, a);
        run.SetInput(1, b);
        run.SetOutput(0, c);
        run.Run();

        a.Dispose();
        Assert.Throws<ObjectDisposedException>(run.Run);
        Assert.Throws<ObjectDisposedException>(() => a.Span.Length);

        run.SetInput(0, c);
        session.Dispose();
        Assert.Throws<ObjectDisposedException>(run.Run);
        Assert.Throws<ObjectDisposedException>(() => session.Prepare(["state_in", "x"], ["state_out"]));
        run.Dispose();
        Assert.Throws<ObjectDisposedException>(run.Run);
    }
}
