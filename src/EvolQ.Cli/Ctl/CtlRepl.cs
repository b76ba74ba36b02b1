namespace EvolQ.Cli.Ctl;

/// <summary>
/// The ctl REPL: reads command lines (from a terminal with editing and completion, or line by line from any reader
/// for scripts and tests) and runs each on the session until exit or the end of input. A line that ends in
/// `> FILE` (or `>> FILE`) writes that command's output to the file instead, as in pbm.
/// </summary>
public static class CtlRepl
{
    /// <summary>Runs lines until exit; returns 0, or for a script the highest status of its commands.</summary>
    /// <param name="input">Lines to run; null reads the terminal with the line editor.</param>
    public static async Task<int> RunAsync(CtlSession session, CommandConsole console, TextReader? input, ITerminal? terminal = null)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(console);
        var values = new CtlValues(session.Client);
        var editor = input is null ? new LineEditor(line => CtlCompletion.Candidates(session.Client.Palettes, line, values.Get), terminal) : null;
        var prompt = Prompt(session.Client.Endpoint);
        if (editor is not null)
            console.Output.WriteLine($"Connected to {session.Client.Node}. 'help' lists the palettes, Tab completes, Ctrl+R searches the history, 'exit' leaves.");
        var worst = 0;
        while (true)
        {
            var line = editor is not null ? editor.ReadLine(prompt) : await input!.ReadLineAsync().ConfigureAwait(false);
            if (line is null)
                break;
            List<string> words;
            Redirection? redirection;
            try
            {
                words = CommandWords.Split(line);
                redirection = Redirection.Take(words);
            }
            catch (UserInputException e)
            {
                console.Error.WriteLine($"evolq: {e.Message}");
                worst = Math.Max(worst, EvolqApp.UserErrorExitCode);
                continue;
            }
            if (words.Count == 0 || words[0].StartsWith('#'))
                continue;
            if (words is ["exit"] or ["quit"])
                break;
            int status;
            if (redirection is null)
            {
                status = await session.RunAsync(words).ConfigureAwait(false);
            }
            else
            {
                StreamWriter file;
                try
                {
                    file = new StreamWriter(redirection.Path, redirection.Append);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
                {
                    console.Error.WriteLine($"evolq: Cannot write to {redirection.Path}: {e.Message}");
                    worst = Math.Max(worst, EvolqApp.UserErrorExitCode);
                    continue;
                }
                await using (file.ConfigureAwait(false))
                    status = await session.RunAsync(words, output: new CommandConsole(file, console.Error)).ConfigureAwait(false);
            }
            worst = Math.Max(worst, status);
        }
        return editor is not null ? 0 : worst;
    }

    /// <summary>pbm's prompt: the endpoint in brackets, then the tool's name.</summary>
    public static string Prompt(string endpoint) => $"[{endpoint}] evolq> ";

    /// <summary>`> FILE` or `>> FILE` at the end of a command line (also written `>FILE`).</summary>
    public sealed record Redirection(string Path, bool Append)
    {
        /// <summary>Removes a redirection from the end of <paramref name="words"/> and returns it; null when there is none.</summary>
        /// <exception cref="UserInputException">A `>` names no file (one sentence).</exception>
        public static Redirection? Take(List<string> words)
        {
            ArgumentNullException.ThrowIfNull(words);
            if (words.Count == 0)
                return null;
            var last = words[^1];
            if (last is ">" or ">>")
                throw new UserInputException($"'{last}' needs a file name after it.");
            if (words.Count >= 2 && words[^2] is ">" or ">>")
            {
                var append = words[^2] == ">>";
                words.RemoveRange(words.Count - 2, 2);
                return new Redirection(last, append);
            }
            if (last.StartsWith(">>", StringComparison.Ordinal) || last.StartsWith('>'))
            {
                var append = last.StartsWith(">>", StringComparison.Ordinal);
                words.RemoveAt(words.Count - 1);
                return new Redirection(last[(append ? 2 : 1)..], append);
            }
            return null;
        }
    }
}
