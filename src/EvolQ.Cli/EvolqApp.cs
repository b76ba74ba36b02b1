using System.CommandLine;
using EvolQ.Cli.Commands;

namespace EvolQ.Cli;

/// <summary>The evolq command line: builds the command tree and turns user errors into one sentence and exit code 2.</summary>
public static class EvolqApp
{
    public const int UserErrorExitCode = 2;

    private const string Description = "evolq: Evol-Q post-training quantization of vision transformers (FQ-ViT baseline + evolutionary scale search).";

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        var console = new CommandConsole(output, error);
        var root = args is ["ctl", ..] ? CtlOnly(console) : new RootCommand(Description)
        {
            ModelsCommand.Create(console),
            BenchCommand.Create(console),
            TrainCommand.Create(console),
            EvalCommand.Create(console),
            CalibrateCommand.Create(console),
            QuantizeCommand.Create(console),
            LandscapeCommand.Create(console),
            DemoCommand.Create(console),
            RunCommand.Create(console),
            NodeCommand.Create(console),
            CtlCommand.Create(console),
            SweepCommand.Create(console),
        };
        try
        {
            // Commands that run long handle SIGINT/SIGTERM themselves (StopSignal), so System.CommandLine must not.
            var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
            return root.Parse(args).Invoke(configuration);
        }
        catch (Exception exception) when (UserErrors.Describe(exception) is { } sentence)
        {
            error.WriteLine($"evolq: {sentence}");
            return UserErrorExitCode;
        }
    }

    /// <summary>
    /// `evolq ctl` alone: building the other commands creates their option defaults, some of which initialise
    /// TorchSharp (and so load libtorch); the ctl client needs none of it, which is what lets the slim ctl image
    /// (docker/Dockerfile.ctl) leave libtorch out.
    /// </summary>
    private static RootCommand CtlOnly(CommandConsole console) => new(Description) { CtlCommand.Create(console) };
}
