using System.Globalization;
using System.Runtime.InteropServices;
using EvolQ.Export.Onnx.Proto;
using EvolQ.Quantization;
using Google.Protobuf;
using static TorchSharp.torch;

namespace EvolQ.Export.Onnx;

/// <summary>
/// Builds one ONNX graph: initializers from TorchSharp tensors, nodes with single outputs, the typed input and output.
/// Names are made in call order, so the same model gives the same bytes.
/// </summary>
internal sealed class OnnxGraph
{
    /// <summary>ONNX opset 21: QuantizeLinear/DequantizeLinear with int4/uint4 and per-axis scales, Gelu.</summary>
    public const int Opset = 21;

    /// <summary>The IR version that goes with opset 21.</summary>
    public const int IrVersion = 10;

    private readonly GraphProto graph;
    private readonly Dictionary<string, int> used = new(StringComparer.Ordinal);

    public OnnxGraph(string name)
    {
        graph = new GraphProto { Name = name };
    }

    /// <summary>A float input with the given dimensions; a null dimension is the batch, named "N".</summary>
    public string Input(string name, params long?[] dims)
    {
        graph.Input.Add(ValueInfo(name, dims));
        return name;
    }

    /// <summary>Renames <paramref name="value"/> to the graph output <paramref name="name"/> (an Identity node).</summary>
    public void Output(string value, string name, params long?[] dims)
    {
        graph.Node.Add(new NodeProto { OpType = "Identity", Input = { value }, Output = { name }, Name = Unique("output") });
        graph.Output.Add(ValueInfo(name, dims));
    }

    /// <summary>A float32 initializer holding <paramref name="value"/>'s elements in its shape.</summary>
    public string Float(string name, Tensor value)
    {
        using var cpu = value.detach().to(ScalarType.Float32, CPU).contiguous();
        var bytes = MemoryMarshal.AsBytes(cpu.data<float>().ToArray().AsSpan()).ToArray();
        return Initializer(name, TensorProto.Types.DataType.Float, cpu.shape, bytes);
    }

    /// <summary>A float32 scalar or vector initializer.</summary>
    public string Float(string name, float[] values, bool scalar = false)
    {
        var bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        return Initializer(name, TensorProto.Types.DataType.Float, scalar ? [] : [values.Length], bytes);
    }

    /// <summary>A float32 scalar initializer.</summary>
    public string Scalar(string name, float value) => Float(name, [value], scalar: true);

    /// <summary>An int64 vector initializer (shapes, axes, indices).</summary>
    public string Int64(string name, params long[] values) =>
        Initializer(name, TensorProto.Types.DataType.Int64, [values.Length], MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>An int64 scalar initializer (a Gather index that drops its axis).</summary>
    public string Int64Scalar(string name, long value) =>
        Initializer(name, TensorProto.Types.DataType.Int64, [], BitConverter.GetBytes(value));

    /// <summary>
    /// Integer codes (floats holding integers of <paramref name="bitType"/>) as the narrowest ONNX integer type that
    /// holds the grid: int4/uint4 (two per byte, element 0 in the low nibble) up to 4 bits, int8/uint8 above.
    /// </summary>
    public string Codes(string name, Tensor codes, BitType bitType)
    {
        using var cpu = codes.detach().to(ScalarType.Float32, CPU).contiguous();
        var values = cpu.data<float>().ToArray();
        var type = CodeType(bitType);
        byte[] bytes;
        if (bitType.Bits <= 4)
        {
            bytes = new byte[(values.Length + 1) / 2];
            for (var i = 0; i < values.Length; i++)
                bytes[i / 2] |= (byte)((((int)values[i]) & 0xF) << (4 * (i % 2)));
        }
        else
        {
            bytes = values.Select(v => unchecked((byte)(int)v)).ToArray();
        }
        return Initializer(name, type, cpu.shape, bytes);
    }

    /// <summary>The ONNX integer type that holds codes of <paramref name="bitType"/>.</summary>
    public static TensorProto.Types.DataType CodeType(BitType bitType) => (bitType.Bits <= 4, bitType.Signed) switch
    {
        (true, true) => TensorProto.Types.DataType.Int4,
        (true, false) => TensorProto.Types.DataType.Uint4,
        (false, true) => TensorProto.Types.DataType.Int8,
        (false, false) => TensorProto.Types.DataType.Uint8,
    };

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string opType, string[] inputs, params AttributeProto[] attributes)
    {
        var output = Unique(opType);
        var node = new NodeProto { OpType = opType, Name = output, Output = { output } };
        node.Input.AddRange(inputs);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return output;
    }

    public string Node(string opType, params string[] inputs) => Node(opType, inputs, []);

    /// <summary>Adds a node with <paramref name="outputs"/> outputs (Split) and returns their names.</summary>
    public string[] Node(string opType, string[] inputs, int outputs, params AttributeProto[] attributes)
    {
        var name = Unique(opType);
        var names = Enumerable.Range(0, outputs).Select(i => name + "_out" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return names;
    }

    /// <summary>Reshape to <paramref name="shape"/> (0 keeps the input's size on that axis, -1 is inferred).</summary>
    public string Reshape(string x, params long[] shape) => Node("Reshape", x, Int64("shape", shape));

    public string Transpose(string x, params long[] perm) => Node("Transpose", [x], Attribute("perm", perm));

    /// <summary>Element <paramref name="index"/> along <paramref name="axis"/>, which is dropped.</summary>
    public string Select(string x, long axis, long index) => Node("Gather", [x, Int64Scalar("index", index)], Attribute("axis", axis));

    public static AttributeProto Attribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Attribute(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Attribute(string name, long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>The whole model, with <paramref name="metadata"/> as its metadata properties (in the given order).</summary>
    public ModelProto ToModel(string docString, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "evolq",
            DocString = docString,
            Graph = graph,
            OpsetImport = { new OperatorSetIdProto { Domain = "", Version = Opset } },
        };
        foreach (var (key, value) in metadata)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    private string Initializer(string name, TensorProto.Types.DataType type, long[] dims, byte[] bytes)
    {
        var unique = Unique(name);
        var tensor = new TensorProto { Name = unique, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        graph.Initializer.Add(tensor);
        return unique;
    }

    private string Unique(string name)
    {
        var count = used.GetValueOrDefault(name);
        used[name] = count + 1;
        return count == 0 ? name : name + "_" + count.ToString(CultureInfo.InvariantCulture);
    }

    private static ValueInfoProto ValueInfo(string name, long?[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
            shape.Dim.Add(dim is { } value ? new TensorShapeProto.Types.Dimension { DimValue = value } : new TensorShapeProto.Types.Dimension { DimParam = "N" });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
