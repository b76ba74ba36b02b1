namespace EvolQ.Cli.Tests;

/// <summary>Every command's argument errors: one sentence naming the command's --help on stderr, exit code 2, no help dump.</summary>
public sealed class ArgumentErrorTests
{
    public static TheoryData<string[], string> Mistakes => new()
    {
        { ["frobnicate"], "Unrecognized command or argument 'frobnicate' (see evolq --help)." },
        { [], "Required command was not provided (see evolq --help)." },
        { ["sweep"], "Required command was not provided (see evolq sweep --help)." },
        { ["sweep", "lsit"], "Unrecognized command or argument 'lsit' (see evolq sweep --help)." },
        { ["models", "--bogus"], "Unrecognized command or argument '--bogus' (see evolq models --help)." },
        { ["eval", "--limit", "ten"], "(see evolq eval --help)." },
        { ["eval", "--limit"], "(see evolq eval --help)." },
        { ["train", "--epochs", "1.5"], "(see evolq train --help)." },
        { ["quantize", "--seed", "x"], "(see evolq quantize --help)." },
        { ["calibrate", "--nope"], "(see evolq calibrate --help)." },
        { ["landscape", "--nope"], "(see evolq landscape --help)." },
        { ["run"], "(see evolq run --help)." },
        { ["run", "a.conf", "b.conf"], "(see evolq run --help)." },
        { ["node", "--nope"], "(see evolq node --help)." },
        { ["demo", "--nope"], "(see evolq demo --help)." },
        { ["bench"], "(see evolq bench --help)." },
        { ["sweep", "show"], "(see evolq sweep show --help)." },
        { ["sweep", "results", "x", "--format"], "(see evolq sweep results --help)." },
        { ["sweep", "show", "x", "--format", "yaml"], "(see evolq sweep show --help)." },
        { ["sweep", "compare", "a"], "(see evolq sweep compare --help)." },
        { ["sweep", "delete"], "(see evolq sweep delete --help)." },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void A_parse_error_is_one_sentence_and_exit_code_2(string[] args, string ending)
    {
        var run = Cli.Run(args);
        var sentence = run.AssertUserError();
        Assert.EndsWith(ending, sentence, StringComparison.Ordinal);
        Assert.DoesNotContain("Usage:", run.Error + run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_still_wins_over_an_error_and_succeeds()
    {
        var run = Cli.Run("eval", "--limit", "ten", "--help");
        run.AssertSuccess();
        Assert.Contains("Usage:", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_limit_variable_that_is_not_a_number_is_a_user_error()
    {
        // The sweep file reader asks for its limits first, so a bad value stops it in one sentence.
        var previous = Environment.GetEnvironmentVariable("EVOLQ_MAX_SWEEP_FILE_BYTES");
        Environment.SetEnvironmentVariable("EVOLQ_MAX_SWEEP_FILE_BYTES", "lots");
        try
        {
            Assert.Equal(
                "EVOLQ_MAX_SWEEP_FILE_BYTES is 'lots', not a positive whole number (a K, M, G or T suffix is allowed).",
                Cli.Run("run", "/no/such.conf").AssertUserError());
        }
        finally
        {
            Environment.SetEnvironmentVariable("EVOLQ_MAX_SWEEP_FILE_BYTES", previous);
        }
    }
}
