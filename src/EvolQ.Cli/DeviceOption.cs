using System.CommandLine;
using static TorchSharp.torch;

namespace EvolQ.Cli;

/// <summary>The --device option shared by commands that run models: cpu, cuda, cuda:N.</summary>
public static class DeviceOption
{
    public static Option<string> Create() => new("--device")
    {
        Description = "Where to run: cpu, cuda or cuda:N (CUDA needs a GPU build, see the README).",
        DefaultValueFactory = _ => "cpu",
    };

    public static Device Resolve(string text)
    {
        var normalized = text.Trim().ToLowerInvariant();
        if (normalized == "cpu")
            return CPU;
        if (normalized.StartsWith("cuda", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new UserInputException($"--device {text} asks for CUDA, but this build or machine has no CUDA device.");
            return device(normalized);
        }
        throw new UserInputException($"'{text}' is not a device: use cpu, cuda or cuda:N.");
    }
}
