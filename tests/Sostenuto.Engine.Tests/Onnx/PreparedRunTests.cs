using System.Runtime.CompilerServices;
using Microsoft.ML.OnnxRuntime.Tensors;
using Sostenuto.Engine.Onnx;

namespace Sostenuto.Engine.Tests.Onnx;

public class PreparedRunTests
{
    private static readonly float[] W = [1, 2, 3, 4, 5, 6]; // add_matmul's weight, [3, 2]

    private static float[] Expected(float[] x, float[] y, int batch)
    {
        var result = new float[batch * 2];
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < 2; j++)
            {
                float sum = y[b * 2 + j];
                for (int k = 0; k < 3; k++) sum += x[b * 3 + k] * W[k * 2 + j];
                result[b * 2 + j] = sum;
            }
        return result;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Add_matmul_gives_the_right_numbers_for_any_batch(int batch)
    {
        using var session = new OnnxSession(OnnxFixtures.Model("add_matmul.onnx"));
        using var run = session.Prepare(["x", "y"], ["out"]);
        float[] xs = Enumerable.Range(0, batch * 3).Select(i => i * 0.25f - 1).ToArray();
        float[] ys = Enumerable.Range(0, batch * 2).Select(i => 10f * i).ToArray();
        using var x = OrtTensor<float>.Create([batch, 3], xs);
        using var y = OrtTensor<float>.Create([batch, 2], ys);
        using var output = new OrtTensor<float>(batch, 2);

        run.SetInput(0, x);
        run.SetInput(1, y);
        run.SetOutput(0, output);
        run.Run();

        Assert.Equal(Expected(xs, ys, batch), output.Span.ToArray());
        Assert.Equal([batch, 2L], output.Shape);
        Assert.Equal(batch * 2, output.Length);
    }

    [Fact]
    public void Inputs_may_be_listed_in_any_order()
    {
        using var session = new OnnxSession(OnnxFixtures.Model("add_matmul.onnx"));
        using var run = session.Prepare(["y", "x"], ["out"]);
        using var x = OrtTensor<float>.Create([1, 3], [1, 1, 1]);
        using var y = OrtTensor<float>.Create([1, 2], [100, 200]);
        using var output = new OrtTensor<float>(1, 2);

        run.SetInput(0, y);
        run.SetInput(1, x);
        run.SetOutput(0, output);
        run.Run();

        Assert.Equal([109f, 212f], output.Span.ToArray());
    }

    [Fact]
    public void Int64_and_int32_inputs_produce_float_output()
    {
        using var session = new OnnxSession(OnnxFixtures.Model("int_to_float.onnx"));
        using var run = session.Prepare(["ids", "offset"], ["values"]);
        using var ids = OrtTensor<long>.Create([4], [0, 1, 7, -3]);
        using var offset = OrtTensor<int>.Create([1], [10]);
        using var values = new OrtTensor<float>(4);

        run.SetInput(0, ids);
        run.SetInput(1, offset);
        run.SetOutput(0, values);
        run.Run();

        Assert.Equal([10f, 10.5f, 13.5f, 8.5f], values.Span.ToArray());
    }

    [Fact]
    public void Inputs_written_through_Span_between_runs_are_seen_by_the_model()
    {
        using var session = new OnnxSession(OnnxFixtures.Model("int_to_float.onnx"));
        using var run = session.Prepare(["ids", "offset"], ["values"]);
        using var ids = new OrtTensor<long>(4);
        using var offset = new OrtTensor<int>(1);
        using var values = new OrtTensor<float>(4);
        run.SetInput(0, ids);
        run.SetInput(1, offset);
        run.SetOutput(0, values);

        for (int i = 0; i < 5; i++)
        {
            ids.Span.Fill(2 * i);
            offset.Span[0] = -i;
            run.Run();
            Assert.All(values.Span.ToArray(), v => Assert.Equal(0f, v)); // i*1 - i
        }
    }

    /// <summary>Runs <paramref name="steps"/> recurrent steps, swapping the two state tensors each time.</summary>
    private static OrtTensor<float> PingPong(PreparedRun run, OrtTensor<float> a, OrtTensor<float> b, int steps)
    {
        for (int i = 0; i < steps; i++)
        {
            run.SetInput(0, a);
            run.SetOutput(0, b);
            run.Run();
            (a, b) = (b, a);
        }
        return a; // holds the latest state
    }

    [Fact]
    public void State_ping_pong_accumulates()
    {
        using var session = new OnnxSession(OnnxFixtures.Model("state.onnx"));
        using var run = session.Prepare(["state_in", "x"], ["state_out"]);
        using var a = new OrtTensor<float>(1, 8);
        using var b = new OrtTensor<float>(1, 8);
        using var x = OrtTensor<float>.Create([1, 8], [1, 2, 3, 4, 5, 6, 7, 8]);
        run.SetInput(1, x);

        var latest = PingPong(run, a, b, 10);

        Assert.Equal(new float[] { 10, 20, 30, 40, 50, 60, 70, 80 }, latest.Span.ToArray());
    }

    [Fact]
    public void Steady_state_Run_allocates_no_managed_memory()
    {
        using var session = new OnnxSession(OnnxFixtures.Model("state.onnx"));
        using var run = session.Prepare(["state_in", "x"], ["state_out"]);
        using var a = new OrtTensor<float>(1, 8);
        using var b = new OrtTensor<float>(1, 8);
        using var x = OrtTensor<float>.Create([1, 8], [1, 1, 1, 1, 1, 1, 1, 1]);
        run.SetInput(1, x);
        PingPong(run, a, b, 200); // warm-up: JIT, tiering, ORT's first-run planning

        long before = GC.GetAllocatedBytesForCurrentThread();
        var latest = PingPong(run, a, b, 1000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.All(latest.Span.ToArray(), v => Assert.Equal(1200f, v));
    }

    [Fact]
    public void After_Prebind_even_the_first_Run_allocates_no_managed_memory()
    {
        using var session = new OnnxSession(OnnxFixtures.Model("state.onnx"));
        using var warm = session.Prepare(["state_in", "x"], ["state_out"]);
        using var run = session.Prepare(["state_in", "x"], ["state_out"]);
        using var a = new OrtTensor<float>(1, 8);
        using var b = new OrtTensor<float>(1, 8);
        using var x = OrtTensor<float>.Create([1, 8], [1, 1, 1, 1, 1, 1, 1, 1]);
        warm.SetInput(1, x);
        PingPong(warm, a, b, 200); // JIT and ORT's first-run planning, on another PreparedRun
        run.SetInput(0, a);
        run.SetInput(1, x);
        run.SetOutput(0, b);
        run.Prebind();

        long before = GC.GetAllocatedBytesForCurrentThread();
        run.Run();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }

    /// <summary>
    /// Binds freshly made input tensors and drops every managed reference to them, so only the
    /// PreparedRun keeps them (and their pinned buffers) alive.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void BindAndForget(PreparedRun run, float state, float step)
    {
        var s = new OrtTensor<float>(1, 8);
        s.Span.Fill(state);
        var x = new OrtTensor<float>(1, 8);
        x.Span.Fill(step);
        run.SetInput(0, s);
        run.SetInput(1, x);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ChurnTheHeap()
    {
        // Give the GC reason to reuse any memory it wrongly freed, including pinned-heap memory.
        for (int i = 0; i < 200; i++)
        {
            var junk = GC.AllocateArray<float>(8, pinned: true);
            junk.AsSpan().Fill(-999f);
            var more = new float[64];
            more.AsSpan().Fill(-999f);
        }
    }

    private static void CollectHard()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
    }

    [Fact]
    public void Numbers_stay_right_under_GC_stress()
    {
        using var session = new OnnxSession(OnnxFixtures.Model("state.onnx"));
        using var run = session.Prepare(["state_in", "x"], ["state_out"]);
        using var output = new OrtTensor<float>(1, 8);
        run.SetOutput(0, output);

        for (int round = 0; round < 20; round++)
        {
            BindAndForget(run, state: round, step: 0.5f);
            CollectHard();
            ChurnTheHeap();
            CollectHard();

            run.Run();

            Assert.All(output.Span.ToArray(), v => Assert.Equal(round + 0.5f, v));
        }
    }

    [Fact]
    public void Ping_pong_survives_GC_between_runs()
    {
        using var session = new OnnxSession(OnnxFixtures.Model("state.onnx"));
        using var run = session.Prepare(["state_in", "x"], ["state_out"]);
        using var a = new OrtTensor<float>(1, 8);
        using var b = new OrtTensor<float>(1, 8);
        using var x = OrtTensor<float>.Create([1, 8], [1, 2, 3, 4, 5, 6, 7, 8]);
        run.SetInput(1, x);

        var latest = a;
        for (int i = 0; i < 10; i++)
        {
            latest = PingPong(run, latest, latest == a ? b : a, 3);
            CollectHard();
            ChurnTheHeap();
        }

        Assert.Equal(new float[] { 30, 60, 90, 120, 150, 180, 210, 240 }, latest.Span.ToArray());
    }

    [Fact]
    public void Tensor_creation_validates_shape_and_data()
    {
        Assert.Throws<ArgumentException>(() => new OrtTensor<float>(2, -1));
        Assert.Throws<ArgumentException>(() => OrtTensor<float>.Create([2, 2], [1, 2, 3]));
        Assert.Throws<NotSupportedException>(() => new OrtTensor<decimal>(1));

        using var empty = new OrtTensor<float>(0, 3);
        Assert.Equal(0, empty.Length);
        using var scalar = new OrtTensor<long>();
        Assert.Equal(1, scalar.Length);
        Assert.Empty(scalar.Shape);
        Assert.Equal(TensorElementType.Int64, scalar.ElementType);
    }
}
