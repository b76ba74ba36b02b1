using EvolQ.Cli.Ctl;
using EvolQ.Cluster.Ctl.Wire;

namespace EvolQ.Cli.Tests.Ctl;

/// <summary>
/// The REPL as pbm users expect it: the prompt, `> FILE`, the shell's editing keys (Ctrl+R, Ctrl+U, Ctrl+W) and Tab
/// completion of values the node knows, driven through a scripted terminal against the live test node.
/// </summary>
[Collection("ctl-cli")]
public sealed class CtlReplTests(CtlTestNode fixture)
{
    private static readonly ConsoleKeyInfo Enter = new('\r', ConsoleKey.Enter, false, false, false);
    private static readonly ConsoleKeyInfo Tab = new('\t', ConsoleKey.Tab, false, false, false);
    private static readonly ConsoleKeyInfo Backspace = new('\b', ConsoleKey.Backspace, false, false, false);
    private static readonly ConsoleKeyInfo Escape = new('\u001b', ConsoleKey.Escape, false, false, false);

    [Fact]
    public void The_prompt_is_pbms()
    {
        Assert.Equal("[127.0.0.1:9110] evolq> ", CtlRepl.Prompt("127.0.0.1:9110"));
    }

    [Fact]
    public async Task The_interactive_repl_shows_the_prompt_runs_a_line_and_ends_at_ctrl_d()
    {
        await using var client = await Connect();
        using var output = new StringWriter();
        using var error = new StringWriter();
        var console = new CommandConsole(output, error);
        var terminal = new ScriptedTerminal([.. Type("cluster leader -r coordinator"), Enter, Control(ConsoleKey.D)]);
        var status = await CtlRepl.RunAsync(new CtlSession(client, console), console, input: null, terminal);
        Assert.Equal(0, status);
        Assert.StartsWith($"[{client.Endpoint}] evolq> ", terminal.Screen, StringComparison.Ordinal);
        Assert.Matches(@"coordinator\s+akka\.tcp://evolq@127\.0\.0\.1:\d+", output.ToString());
        Assert.Equal("", error.ToString());
    }

    [Fact]
    public void A_line_ending_in_a_redirection_writes_that_commands_output_to_the_file()
    {
        using var dir = new EvolQ.Testing.TempDirectory("evolq-ctl-redirect");
        var file = dir.File("out.txt");
        using var output = new StringWriter();
        using var error = new StringWriter();
        var script = new StringReader($"""
            cluster leader -r coordinator > {file}
            help log >>{file}
            cluster status
            evolq jobs > {dir.File(Path.Combine("no-such-folder", "x.txt"))}
            """);
        var root = new System.CommandLine.RootCommand { Commands.CtlCommand.Create(new CommandConsole(output, error), script) };
        var status = root.Parse(["ctl", fixture.Endpoint, "--token", CtlTestNode.Token]).Invoke();

        Assert.Equal(EvolqApp.UserErrorExitCode, status);
        var written = File.ReadAllText(file);
        Assert.Matches(@"coordinator\s+akka\.tcp://evolq@", written);
        Assert.Contains("log slurp [-l|--level <level>]", written, StringComparison.Ordinal);
        // Only the command without a redirection printed; the unwritable file is one sentence.
        Assert.DoesNotContain("coordinator  ", output.ToString(), StringComparison.Ordinal);
        Assert.Matches(@"status\s+Up", output.ToString());
        Assert.StartsWith($"evolq: Cannot write to {dir.File(Path.Combine("no-such-folder", "x.txt"))}: ", error.ToString(), StringComparison.Ordinal);
        Assert.Single(error.ToString().Trim().Split('\n'));
    }

    [Fact]
    public void Redirections_are_taken_off_the_end_of_the_words()
    {
        var words = new List<string> { "cluster", "show", ">", "a.txt" };
        Assert.Equal(new CtlRepl.Redirection("a.txt", false), CtlRepl.Redirection.Take(words));
        Assert.Equal(["cluster", "show"], words);
        words = ["log", "slurp", ">>b.txt"];
        Assert.Equal(new CtlRepl.Redirection("b.txt", true), CtlRepl.Redirection.Take(words));
        Assert.Equal(["log", "slurp"], words);
        words = ["cluster", "show"];
        Assert.Null(CtlRepl.Redirection.Take(words));
        Assert.Equal("'>' needs a file name after it.", Assert.Throws<UserInputException>(() => CtlRepl.Redirection.Take(["cluster", "show", ">"])).Message);
    }

    [Fact]
    public void Ctrl_u_erases_to_the_start_and_ctrl_w_the_word_before_the_cursor()
    {
        var editor = new LineEditor(_ => [], new ScriptedTerminal([
            .. Type("cluster show"), Control(ConsoleKey.U), .. Type("log peek --count 5"), Control(ConsoleKey.W), Control(ConsoleKey.W),
            .. Type("--level error"), Enter,
            .. Type("actor   hierarchy  "), Control(ConsoleKey.W), Enter,
        ]));
        Assert.Equal("log peek --level error", editor.ReadLine("> "));
        Assert.Equal("actor   ", editor.ReadLine("> "));
    }

    [Fact]
    public void Ctrl_r_finds_older_lines_containing_the_query()
    {
        var terminal = new ScriptedTerminal([
            .. Type("evolq jobs"), Enter,
            .. Type("cluster show"), Enter,
            .. Type("evolq job show golden.w4"), Enter,
            // Search "evolq": the newest match first, Ctrl+R again for the older one, Enter runs it.
            Control(ConsoleKey.R), .. Type("evolq"), Control(ConsoleKey.R), Enter,
            // Search "clu", Escape takes the match onto the line for editing, then it is run as edited.
            Control(ConsoleKey.R), .. Type("clu"), Escape, .. Type(" --x"), Enter,
            // A query nothing contains, then Ctrl+G: the line as it was.
            .. Type("log"), Control(ConsoleKey.R), .. Type("zzz"), Control(ConsoleKey.G), Enter,
            // Backspace shortens the query and searches again from the newest line.
            Control(ConsoleKey.R), .. Type("evolq jx"), Backspace, Enter,
        ]);
        var editor = new LineEditor(_ => [], terminal);
        Assert.Equal("evolq jobs", editor.ReadLine("> "));
        Assert.Equal("cluster show", editor.ReadLine("> "));
        Assert.Equal("evolq job show golden.w4", editor.ReadLine("> "));
        Assert.Equal("evolq jobs", editor.ReadLine("> "));
        Assert.Equal("cluster show --x", editor.ReadLine("> "));
        Assert.Equal("log", editor.ReadLine("> "));
        Assert.Equal("evolq jobs", editor.ReadLine("> "));
        Assert.Contains("(reverse-i-search)'evolq': evolq job show golden.w4", terminal.Screen, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tab_completes_job_ids_sweep_ids_addresses_roles_types_and_levels_from_the_node()
    {
        await using var client = await Connect();
        var values = new CtlValues(client);
        var palettes = client.Palettes;
        var address = fixture.Node.Address.ToString();
        Assert.Equal([CtlTestNode.JobId], CtlCompletion.Candidates(palettes, "evolq job show ", values.Get));
        Assert.Equal([CtlTestNode.JobId], CtlCompletion.Candidates(palettes, "evolq job show gol", values.Get));
        Assert.Equal(["golden"], CtlCompletion.Candidates(palettes, "evolq sweep show ", values.Get));
        Assert.Equal(["golden"], CtlCompletion.Candidates(palettes, "evolq jobs --sweep ", values.Get));
        Assert.Equal([address], CtlCompletion.Candidates(palettes, "cluster down -a ", values.Get));
        Assert.Equal([address], CtlCompletion.Candidates(palettes, "cluster leave ", values.Get));
        Assert.Equal(["coordinator", "worker"], CtlCompletion.Candidates(palettes, "cluster leader -r ", values.Get));
        Assert.Equal(["job"], CtlCompletion.Candidates(palettes, "cluster-sharding region-stats -r ", values.Get));
        Assert.Equal(["warning"], CtlCompletion.Candidates(palettes, "log slurp --level w", values.Get));
        // After a value, the options again; a value not asked for completes nothing.
        Assert.Equal(["--top"], CtlCompletion.Candidates(palettes, $"evolq job show {CtlTestNode.JobId} ", values.Get));
        Assert.Empty(CtlCompletion.Candidates(palettes, "log peek --count ", values.Get));

        // Through the editor: Tab inserts the one job id.
        var editor = new LineEditor(line => CtlCompletion.Candidates(palettes, line, values.Get),
            new ScriptedTerminal([.. Type("evolq job show g"), Tab, Enter]));
        Assert.Equal($"evolq job show {CtlTestNode.JobId} ", editor.ReadLine("> "));
    }

    private Task<CtlClient> Connect() => CtlClient.ConnectAsync(
        "127.0.0.1", int.Parse(fixture.Endpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture), CtlTestNode.Token, TimeSpan.FromSeconds(5));

    private static IEnumerable<ConsoleKeyInfo> Type(string text) =>
        text.Select(c => new ConsoleKeyInfo(c, c == ' ' ? ConsoleKey.Spacebar : char.IsAsciiLetter(c) ? Enum.Parse<ConsoleKey>(char.ToUpperInvariant(c).ToString()) : ConsoleKey.Oem1, false, false, false));

    private static ConsoleKeyInfo Control(ConsoleKey key) => new((char)(key - ConsoleKey.A + 1), key, false, false, true);

    /// <summary>A terminal that plays keys from a script and keeps what was written.</summary>
    private sealed class ScriptedTerminal(IEnumerable<ConsoleKeyInfo> keys) : ITerminal
    {
        private readonly Queue<ConsoleKeyInfo> keys = new(keys);
        private readonly System.Text.StringBuilder screen = new();

        public string Screen => screen.ToString();

        public bool TreatControlCAsInput { get; set; }

        public ConsoleKeyInfo ReadKey() => keys.TryDequeue(out var key) ? key : throw new InvalidOperationException("The script has no more keys.");

        public void Write(string text) => screen.Append(text);
    }
}
