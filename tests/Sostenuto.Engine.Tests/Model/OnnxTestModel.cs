using System.Text;

namespace Sostenuto.Engine.Tests.Model;

/// <summary>
/// Writes small but real ONNX models (protobuf encoded by hand; there is no ONNX package for .NET
/// here and the tests must not need Python) whose inputs and outputs have exactly the names,
/// element types and shapes a test asks for. Each output is a <c>ConstantOfShape</c> of zeros
/// (batch dimension 1); the inputs are declared and unused. ONNX Runtime loads them like any
/// other model, so the package validation runs against real session metadata.
/// </summary>
public static class OnnxTestModel
{
    /// <summary>ONNX TensorProto.DataType values.</summary>
    public enum ElementType { Float = 1, Int32 = 6, Int64 = 7, Double = 11 }

    /// <summary>A graph input or output. A dimension is a <c>long</c> (fixed), a <c>string</c> (symbolic) or null (unknown, no name).</summary>
    public sealed record Tensor(string Name, ElementType Type, params object?[] Dims)
    {
        /// <summary>For an output: the shape the graph really produces, if not the declared one (a model that lies about its output).</summary>
        public long[]? Produces { get; init; }
    }

    public static void Write(string path, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> outputs) =>
        File.WriteAllBytes(path, Build(inputs, outputs));

    public static byte[] Build(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> outputs)
    {
        var graph = new Proto();
        foreach (var output in outputs)
        {
            var shapeName = output.Name + "__shape";
            if (output.Produces is { } produced)
            {
                // The shape is made to depend on the first input's values (times zero), so ONNX shape
                // inference cannot see through it: the declared shape stands at load time and the real
                // one only appears when the model runs.
                var first = inputs[0];
                if (first.Type != ElementType.Int64) throw new ArgumentException("a lying output needs an int64 first input");
                graph.Message(5, Int64Initializer(output.Name + "__flat", [-1]));
                graph.Message(5, Int64Initializer(output.Name + "__zero", [0]));
                graph.Message(5, Int64Initializer(output.Name + "__rank", [produced.Length]));
                graph.Message(5, Int64Initializer(output.Name + "__zeros", new long[produced.Length]));
                graph.Message(5, Int64Initializer(output.Name + "__produced", produced));
                graph.Message(1, Node("Reshape", [first.Name, output.Name + "__flat"], output.Name + "__values"));
                graph.Message(1, Node("Slice", [output.Name + "__values", output.Name + "__zero", output.Name + "__rank"], output.Name + "__head"));
                graph.Message(1, Node("Mul", [output.Name + "__head", output.Name + "__zeros"], output.Name + "__nothing"));
                graph.Message(1, Node("Add", [output.Name + "__nothing", output.Name + "__produced"], shapeName));
            }
            else
            {
                var concrete = output.Dims.Select(d => d is long n ? n : 1L).ToArray();
                graph.Message(5, Int64Initializer(shapeName, concrete)); // the shape vector fed to ConstantOfShape
            }
            graph.Message(1, Node("ConstantOfShape", [shapeName], output.Name)
                .Message(5, new Proto()
                    .String(1, "value")
                    .Message(5, TensorProto("", output.Type, [1], new byte[ByteSize(output.Type)]))
                    .Varint(20, 4))); // AttributeType.TENSOR
        }
        graph.String(2, "sostenuto_test_graph");
        foreach (var input in inputs) graph.Message(11, ValueInfo(input));
        foreach (var output in outputs) graph.Message(12, ValueInfo(output));

        var model = new Proto()
            .Varint(1, 8) // IR version 8
            .String(2, "sostenuto-tests")
            .Message(7, graph)
            .Message(8, new Proto().String(1, "").Varint(2, 17)); // opset 17
        return model.ToArray();
    }

    static Proto Int64Initializer(string name, long[] values) =>
        TensorProto(name, ElementType.Int64, [values.Length], values.SelectMany(BitConverter.GetBytes).ToArray());

    static int s_nodes;

    static Proto Node(string op, string[] inputs, string output)
    {
        var node = new Proto();
        foreach (var input in inputs) node.String(1, input);
        return node.String(2, output).String(3, $"{op}_{Interlocked.Increment(ref s_nodes)}").String(4, op);
    }

    static int ByteSize(ElementType type) => type switch
    {
        ElementType.Float or ElementType.Int32 => 4,
        _ => 8,
    };

    static Proto TensorProto(string name, ElementType type, long[] dims, byte[] raw)
    {
        var t = new Proto();
        foreach (var d in dims) t.Varint(1, (ulong)d);
        t.Varint(2, (ulong)type);
        if (name.Length > 0) t.String(8, name);
        t.Bytes(9, raw);
        return t;
    }

    static Proto ValueInfo(Tensor tensor)
    {
        var shape = new Proto();
        foreach (var d in tensor.Dims)
            shape.Message(1, d switch
            {
                string s => new Proto().String(2, s),
                long n => new Proto().Varint(1, (ulong)n),
                null => new Proto(),
                _ => throw new ArgumentException($"dimension {d} of {tensor.Name}: use long, string or null"),
            });
        var tensorType = new Proto().Varint(1, (ulong)tensor.Type).Message(2, shape);
        return new Proto().String(1, tensor.Name).Message(2, new Proto().Message(1, tensorType));
    }

    /// <summary>A minimal protobuf writer: varint and length-delimited fields are all ONNX needs here.</summary>
    sealed class Proto
    {
        readonly MemoryStream _bytes = new();

        public Proto Varint(int field, ulong value)
        {
            WriteVarint((ulong)(field << 3));
            WriteVarint(value);
            return this;
        }

        public Proto Bytes(int field, byte[] value)
        {
            WriteVarint((ulong)(field << 3 | 2));
            WriteVarint((ulong)value.Length);
            _bytes.Write(value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _bytes.ToArray();

        void WriteVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            _bytes.WriteByte((byte)value);
        }
    }
}
