using System.CommandLine;
using EvolQ.Cli.Ctl;
using EvolQ.Cluster.Ctl.Wire;

namespace EvolQ.Cli.Commands;

/// <summary>
/// `evolq ctl [host:port] [command...]`: a node's command endpoint, pbm-style. With a command it runs it and exits
/// (0 done, 1 failed on the node, 2 not runnable: unreachable node, wrong token, unknown command); without one it
/// opens a REPL with help and Tab completion (reading stdin line by line when it is not a terminal).
/// </summary>
public static class CtlCommand
{
    private static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    /// <param name="input">Where REPL lines come from; the terminal (or redirected stdin) when null.</param>
    public static Command Create(CommandConsole console, TextReader? input = null)
    {
        var words = new Argument<string[]>("words")
        {
            Arity = ArgumentArity.ZeroOrMore,
            Description = "An endpoint host:port (default 127.0.0.1:9110), then a command: PALETTE COMMAND [ARGUMENTS]; none opens the REPL.",
        };
        var token = new Option<string?>("--token") { Description = "The node's ctl token (default: $EVOLQ_CTL_TOKEN)." };
        var command = new Command("ctl", "Inspect and steer a running node: cluster, cluster-sharding, actor, log and evolq palettes (pbm-style).")
        {
            words,
            token,
        };
        // Options of the node's commands (log peek --count 5) are not ctl's own: they stay among the words.
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(parse =>
        {
            var all = (parse.GetValue(words) ?? []).Concat(parse.UnmatchedTokens).ToList();
            var endpoint = CtlEndpoint.Local;
            if (all.Count > 0 && CtlEndpoint.Looks(all[0]))
            {
                endpoint = CtlEndpoint.Parse(all[0]);
                all.RemoveAt(0);
            }
            var secret = parse.GetValue(token) ?? Environment.GetEnvironmentVariable("EVOLQ_CTL_TOKEN") ?? "";
            return Run(console, endpoint, secret, all, null, input ?? (Console.IsInputRedirected ? Console.In : null), all.Count == 0);
        });
        return command;
    }

    /// <summary>
    /// Connects and runs one command (with an optional payload, such as a sweep file's text); the exit status as
    /// `evolq ctl` gives it. For `evolq sweep ...` and other commands that talk to a node.
    /// </summary>
    public static int RunOnce(CommandConsole console, string endpoint, string? token, IReadOnlyList<string> words, string? payload = null)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(endpoint);
        return Run(console, CtlEndpoint.Parse(endpoint), token ?? Environment.GetEnvironmentVariable("EVOLQ_CTL_TOKEN") ?? "",
            words, payload, null, repl: false);
    }

    private static int Run(CommandConsole console, CtlEndpoint endpoint, string token, IReadOnlyList<string> words, string? payload, TextReader? input, bool repl)
    {
        CtlSession? session = null;
        // Ctrl+C stops the command that runs (a tail); with none running it ends evolq as usual.
        ConsoleCancelEventHandler onCancel = (_, e) => e.Cancel = session?.CancelRunning() == true;
        Console.CancelKeyPress += onCancel;
        try
        {
            return RunAsync().GetAwaiter().GetResult();
        }
        catch (CtlClientException e)
        {
            console.Error.WriteLine($"evolq: {e.Message}");
            return EvolqApp.UserErrorExitCode;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        async Task<int> RunAsync()
        {
            await using var client = await CtlClient.ConnectAsync(endpoint.Host, endpoint.Port, token, DefaultConnectTimeout).ConfigureAwait(false);
            session = new CtlSession(client, console);
            return repl
                ? await CtlRepl.RunAsync(session, console, input).ConfigureAwait(false)
                : await session.RunAsync(words, payload).ConfigureAwait(false);
        }
    }
}
