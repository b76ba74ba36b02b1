using System.CommandLine;
using EvolQ.Cli.Options;

namespace EvolQ.Cli.Commands;

/// <summary>
/// `evolq demo`: the main job on one machine — the demo sweep (hocon/sweeps/demo.conf: the shipped tiny ViT on
/// Fashion-MNIST, FQ-ViT and Evol-Q at W4A8 and W3A8, seeds 0, 1, 2) on an embedded single-node cluster, then the table.
/// </summary>
public static class DemoCommand
{
    public const string SweepFile = "hocon/sweeps/demo.conf";

    public static Command Create(CommandConsole console)
    {
        // Two CPU workers of one torch thread each: both cores search (two jobs at once, as the sweep allows), and the
        // table does not depend on the machine's core count, since MKL's reproducible branch sums by thread count.
        var flags = new RunFlags(new NodeFlags(defaultDevices: "cpu,cpu", defaultThreads: 1));
        var command = new Command("demo", $"The main job: `evolq run {SweepFile}` (tiny ViT on Fashion-MNIST, W4A8 and W3A8, seeds 0, 1, 2), then the table.");
        flags.AddTo(command);
        command.SetAction(parse => RunCommand.Run(console, parse, flags, FindSweep()));
        return command;
    }

    /// <summary>The demo sweep: in the working directory (a clone's root) or beside the executable.</summary>
    private static string FindSweep()
    {
        foreach (var candidate in new[] { Path.GetFullPath(SweepFile), Path.Combine(AppContext.BaseDirectory, SweepFile) })
        {
            if (File.Exists(candidate))
                return candidate;
        }
        throw new UserInputException($"The demo sweep {SweepFile} is missing: run from the repository's root.");
    }
}
