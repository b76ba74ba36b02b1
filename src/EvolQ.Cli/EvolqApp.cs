using System.CommandLine;
using EvolQ.Cli.Commands;
using EvolQ.Cli.Logging;

namespace EvolQ.Cli;

/// <summary>The evolq command line: builds the command tree and turns user errors into one sentence and exit code 2.</summary>
public static class EvolqApp
{
    public const int UserErrorExitCode = 2;

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var console = new CommandConsole(output, error);
        var root = new RootCommand("evolq: Evol-Q post-training quantization of vision transformers (FQ-ViT baseline + evolutionary scale search).")
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
            DashboardCommand.Create(console),
        };
        var logLevel = LogFlags.CreateLevel();
        var logFormat = LogFlags.CreateFormat();
        root.Options.Add(logLevel);
        root.Options.Add(logFormat);
        try
        {
            var parse = root.Parse(args);
            console.UseLogs(LogFlags.Resolve(parse, logLevel, logFormat, Environment.GetEnvironmentVariable));
            // Commands that run long handle SIGINT/SIGTERM themselves (StopSignal), so System.CommandLine must not.
            var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
            return parse.Invoke(configuration);
        }
        catch (Exception exception) when (UserErrors.Describe(exception) is { } sentence)
        {
            console.Say(sentence);
            return UserErrorExitCode;
        }
        finally
        {
            console.Logger.Dispose();
        }
    }
}
