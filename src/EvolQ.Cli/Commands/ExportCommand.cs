using System.CommandLine;
using EvolQ.Export;

namespace EvolQ.Cli.Commands;

/// <summary>`evolq export onnx`: a quantized-model file as a standard ONNX graph (docs/onnx.md).</summary>
public static class ExportCommand
{
    public static Command Create(CommandConsole console) =>
        new("export", "Write a quantized model in another format.") { Onnx(console) };

    private static Command Onnx(CommandConsole console)
    {
        var file = new Argument<string>("file") { Description = "A quantized-model file written by `evolq calibrate`, `evolq quantize` or a sweep." };
        var output = new Option<string>("--out") { Description = "The ONNX file to write (opset 21; input 'images' [N, C, H, W], output 'logits').", Required = true };
        var exact = new Option<bool>("--exact-activations")
        {
            Description = "Write 8-bit activation quantizers as evolq's own arithmetic instead of QuantizeLinear/DequantizeLinear: evolq's rounding, but no integer kernels.",
        };
        var command = new Command("onnx", "Write a quantized model as an ONNX graph of its fake-quantized forward pass (QuantizeLinear/DequantizeLinear and standard operators).")
        {
            file, output, exact,
        };
        command.SetAction(parse =>
        {
            var outPath = parse.GetValue(output)!;
            TrainCommand.CheckOutputFolder(outPath);
            var summary = OnnxExport.ExportFile(parse.GetValue(file)!, outPath, new OnnxExportOptions { ExactActivations = parse.GetValue(exact) });
            console.Output.WriteLine($"Wrote {outPath}: {summary.Model} ({summary.Family}) {summary.Quantization}, {summary.Bytes / 1024.0:0} KiB.");
            return 0;
        });
        return command;
    }
}
