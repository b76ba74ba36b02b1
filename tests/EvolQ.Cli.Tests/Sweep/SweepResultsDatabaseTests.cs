using EvolQ.Testing;

namespace EvolQ.Cli.Tests.Sweep;

/// <summary>`evolq sweep results --db`: the table read from the results tables of a live node's journal file.</summary>
[Collection("sweep-cli")]
[Trait("Category", "Slow")]
public sealed class SweepResultsDatabaseTests(SweepTestNode fixture)
{
    private static readonly TimeSpan ProjectionTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task The_table_read_from_the_database_is_the_one_the_node_prints_in_every_format_and_with_its_files()
    {
        var file = fixture.File("sqldb.conf", SweepTestNode.SweepText("sqldb", cycles: 1));
        fixture.Sweep("submit", file, "--follow", "--progress-every", "5").AssertSuccess();
        var database = fixture.Files.File("journal.db");

        foreach (var format in new[] { "markdown", "csv", "json" })
        {
            var viaNode = fixture.Sweep("results", "sqldb", "--format", format);
            viaNode.AssertSuccess();
            // The projection writes each event after the journal has it: the database may lag the node briefly.
            var viaDatabase = await Eventually.Get(() => Cli.Run("sweep", "results", "sqldb", "--format", format, "--db", database),
                run => run.Output == viaNode.Output, ProjectionTimeout, $"the {format} results from the database to equal the node's");
            viaDatabase.AssertSuccess();
            Assert.Equal(viaNode.Output, viaDatabase.Output);
        }

        var folder = fixture.Files.File("sqldb-out");
        var written = Cli.Run("sweep", "results", "sqldb", "--db", database, "--out", folder);
        written.AssertSuccess();
        Assert.Contains($"Results in {folder}: results.md, results.csv, results.json, accuracy.png, accuracy.svg, loss-vit_tiny_patch7_28-W4A8-s0.png, loss-vit_tiny_patch7_28-W4A8-s0.svg, "
            + "loss-vit_tiny_patch7_28-W4A8-s1.png, loss-vit_tiny_patch7_28-W4A8-s1.svg",
            written.Output, StringComparison.Ordinal);
        Assert.Equal(fixture.Sweep("results", "sqldb").Output, File.ReadAllText(Path.Combine(folder, "results.md")));
    }

    [Fact]
    public void Asking_the_database_for_what_it_cannot_answer_is_one_sentence_and_exit_2()
    {
        var database = fixture.Files.File("journal.db");
        Assert.Equal("--db reads the results from the database without a node: leave out --node and --token.",
            Cli.Run("sweep", "results", "x", "--db", database, "--node", fixture.Endpoint).AssertUserError());
        Assert.Equal($"There is no sweep 'nope' in Data Source={database}.", Cli.Run("sweep", "results", "nope", "--db", database).AssertUserError());
        var missing = fixture.Files.File("missing.db");
        Assert.Equal($"There is no SQLite database '{missing}'.", Cli.Run("sweep", "results", "x", "--db", missing).AssertUserError());
        Assert.False(File.Exists(missing));
        Assert.StartsWith("--db is a ftp:// URI;", Cli.Run("sweep", "results", "x", "--db", "ftp://host/db").AssertUserError(), StringComparison.Ordinal);
    }
}

/// <summary>`evolq run` then `evolq sweep results --db` on its journal: the tables are complete when the run returns.</summary>
[Trait("Category", "Slow")]
public sealed class RunResultsDatabaseTests
{
    [Fact]
    public void Right_after_evolq_run_the_database_holds_the_table_the_run_wrote()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("tiny.conf"), SweepTestNode.SweepText("tiny", seeds: "[0, 1]", cycles: 1));
        var database = dir.File("evolq.db");
        Cli.Run("run", dir.File("tiny.conf"), "--db", database, "--out", dir.File("out"), "--progress-every", "5").AssertSuccess();

        // No waiting: the sweep manager writes what it still holds before `evolq run` returns.
        var markdown = Cli.Run("sweep", "results", "tiny", "--db", database);
        markdown.AssertSuccess();
        Assert.Equal(File.ReadAllText(Path.Combine(dir.File("out"), "tiny", "results.md")), markdown.Output);
        Assert.Contains("2 jobs: 2 done, 0 failed", markdown.Output, StringComparison.Ordinal);
        var csv = Cli.Run("sweep", "results", "tiny", "--db", database, "--format", "csv");
        csv.AssertSuccess();
        Assert.Equal(File.ReadAllText(Path.Combine(dir.File("out"), "tiny", "results.csv")), csv.Output);

        // `sweep list --db` prints the ctl table of `evolq sweeps`: a done sweep only with --all.
        var all = Cli.Run("sweep", "list", "--all", "--db", database);
        all.AssertSuccess();
        var row = Assert.Single(all.Output.Split('\n'), l => l.TrimStart().StartsWith("tiny ", StringComparison.Ordinal));
        Assert.Matches(@"^\s*tiny\s+.+\s+done\s+2\s+0\s+0\s+2\s+0\s+0\s+\d{4}-\d\d-\d\d", row);
        var running = Cli.Run("sweep", "list", "--db", database);
        running.AssertSuccess();
        Assert.DoesNotContain("tiny", running.Output, StringComparison.Ordinal);
        Assert.Contains("(none)", running.Output, StringComparison.Ordinal);
        Assert.Equal("--db reads the sweeps from the database without a node: leave out --node and --token.",
            Cli.Run("sweep", "list", "--db", database, "--node", "127.0.0.1:1").AssertUserError());
    }
}
