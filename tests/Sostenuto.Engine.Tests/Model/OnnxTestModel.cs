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
    public sealed record Tensor(string Name, ElementType Type, params object?[] Dims);

    public static void Write(string path, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> outputs) =>
        File.WriteAllBytes(path, Build(inputs, outputs));

    public static byte[] Build(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> outputs)
    {
        var graph = new Proto();
        foreach (var output in outputs)
        {
            var concrete = output.Dims.Select(d => d is long n ? n : 1L).ToArray();
            var shapeName = output.Name + "__shape";
            // initializer: the int64 shape vector fed to ConstantOfShape
            graph.Message(5, TensorProto(shapeName, ElementType.Int64, [concrete.Length], concrete.SelectMany(BitConverter.GetBytes).ToArray()));
            var node = new Proto()
                .String(1, shapeName)
                .String(2, output.Name)
                .String(3, "make_" + output.Name)
                .String(4, "ConstantOfShape")
                .Message(5, new Proto()
                    .String(1, "value")
                    .Message(5, TensorProto("", output.Type, [1], new byte[ByteSize(output.Type)]))
                    .Varint(20, 4)); // AttributeType.TENSOR
            graph.Message(1, node);
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
