using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using EvolQ.Cli.Commands;
using EvolQ.Cli.Logging;

namespace EvolQ.Cli;

/// <summary>The evolq command line: builds the command tree and turns user errors into one sentence and exit code 2.</summary>
public static class EvolqApp
{
    public const int UserErrorExitCode = 2;

    private const string Description = "evolq: Evol-Q post-training quantization of vision transformers (FQ-ViT baseline + evolutionary scale search).";

    public static int Run(string[] args, TextWriter output, TextWriter error) => Run(args, output, error, null);

    /// <param name="answers">What a person types at a question (a confirmation); the terminal when null and evolq runs on one.</param>
    public static int Run(string[] args, TextWriter output, TextWriter error, TextReader? answers)
    {
        ArgumentNullException.ThrowIfNull(args);
        var console = new CommandConsole(output, error, answers);
        var root = args is ["ctl", ..] ? CtlOnly(console) : new RootCommand(Description)
        {
            ModelsCommand.Create(console),
            BenchCommand.Create(console),
            TrainCommand.Create(console),
            EvalCommand.Create(console),
            ExportCommand.Create(console),
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
            // System.CommandLine's own reaction to a bad argument is the whole help text and exit code 1; every command
            // here answers with one sentence and exit code 2 instead (--help and --version still win over errors).
            if (parse.Errors.Count > 0 && parse.Action is null or ParseErrorAction)
            {
                error.WriteLine($"evolq: {ParseErrorSentence(parse)}");
                return UserErrorExitCode;
            }

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

    /// <summary>
    /// `evolq ctl` alone: building the other commands creates their option defaults, some of which initialise
    /// TorchSharp (and so load libtorch); the ctl client needs none of it, which is what lets the slim ctl image
    /// (docker/Dockerfile.ctl) leave libtorch out.
    /// </summary>
    private static RootCommand CtlOnly(CommandConsole console) => new(Description) { CtlCommand.Create(console) };

    /// <summary>The most telling parse error as one sentence, with where to find the command's usage.</summary>
    public static string ParseErrorSentence(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        // "Required command was not provided" comes alongside the unrecognized word that was meant as the command.
        var first = parse.Errors
            .OrderBy(e => e.Message.StartsWith("Required command", StringComparison.Ordinal) ? 1 : 0)
            .First().Message.Trim().TrimEnd('.');
        var names = new List<string>();
        for (SymbolResult? result = parse.CommandResult; result is CommandResult command; result = command.Parent)
        {
            if (command.Parent is not null)
            {
                names.Insert(0, command.Command.Name);
            }
        }

        var usage = string.Join(' ', ["evolq", .. names, "--help"]);
        return $"{first.Replace('\n', ' ')} (see {usage}).";
    }
}
