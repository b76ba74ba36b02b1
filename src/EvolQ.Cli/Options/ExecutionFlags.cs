using System.CommandLine;
using static TorchSharp.torch;

namespace EvolQ.Cli.Options;

/// <summary>Where a command computes: --device and --threads.</summary>
public sealed class ExecutionFlags
{
    private readonly Option<string> device = DeviceOption.Create();
    private readonly Option<int> threads = new("--threads") { Description = "Torch CPU threads (0: libtorch's default, one per core).", DefaultValueFactory = _ => 0 };

    public void AddTo(Command command)
    {
        command.Options.Add(device);
        command.Options.Add(threads);
    }

    /// <summary>The chosen device; also applies --threads.</summary>
    public Device Device(ParseResult parse)
    {
        var count = parse.GetValue(threads);
        if (count < 0)
            throw new UserInputException("--threads must be 0 (the default) or positive.");
        if (count > 0)
            set_num_threads(count);
        return DeviceOption.Resolve(parse.GetValue(device)!);
    }
}
