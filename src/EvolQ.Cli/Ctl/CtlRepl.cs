namespace EvolQ.Cli.Ctl;

/// <summary>
/// The ctl REPL: reads command lines (from a terminal with editing and completion, or line by line from any reader
/// for scripts and tests) and runs each on the session until exit or the end of input.
/// </summary>
public static class CtlRepl
{
    /// <summary>Runs lines until exit; returns 0, or for a script the highest status of its commands.</summary>
    /// <param name="input">Lines to run; null reads the terminal with the line editor.</param>
    public static async Task<int> RunAsync(CtlSession session, CommandConsole console, TextReader? input)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(console);
        var editor = input is null ? new LineEditor(line => CtlCompletion.Candidates(session.Client.Palettes, line)) : null;
        var prompt = $"evolq {session.Client.Endpoint}> ";
        if (editor is not null)
            console.Output.WriteLine($"Connected to {session.Client.Node}. 'help' lists the palettes, Tab completes, 'exit' leaves.");
        var worst = 0;
        while (true)
        {
            var line = editor is not null ? editor.ReadLine(prompt) : await input!.ReadLineAsync().ConfigureAwait(false);
            if (line is null)
                break;
            List<string> words;
            try
            {
                words = CommandWords.Split(line);
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
            var status = await session.RunAsync(words).ConfigureAwait(false);
            worst = Math.Max(worst, status);
        }
        return editor is not null ? 0 : worst;
    }
}
