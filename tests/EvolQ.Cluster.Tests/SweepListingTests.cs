using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Engine.Evaluation;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests;

/// <summary>`evolq sweep list` filtering and sorting, and `evolq sweep compare`'s matching, as plain functions.</summary>
public sealed class SweepListingTests
{
    private static readonly SweepSummary[] Sweeps =
    [
        new("b-paper", "Paper table", SweepState.Done, 12, 0, 0, 12, 0, 0, 3_000, 9_000),
        new("a-smoke", "smoke test", SweepState.Running, 2, 1, 1, 0, 0, 0, 5_000, 0),
        new("c-ablation", "Paper ablation", SweepState.Cancelled, 4, 2, 0, 1, 0, 1, 1_000, 2_000),
        new("d-old", "old run", SweepState.Done, 1, 0, 0, 1, 0, 0, 500, 600),
    ];

    private static string[] Ids(SweepListing listing) => listing.Apply(Sweeps).Select(s => s.SweepId).ToArray();

    [Fact]
    public void By_default_unfinished_sweeps_oldest_first_and_all_adds_the_done_ones()
    {
        Assert.Equal(["c-ablation", "a-smoke"], Ids(new SweepListing()));
        Assert.Equal(["d-old", "c-ablation", "b-paper", "a-smoke"], Ids(new SweepListing(All: true)));
        Assert.Equal(["a-smoke", "b-paper", "c-ablation", "d-old"], Ids(new SweepListing(All: true, Descending: true)));
    }

    [Fact]
    public void States_and_a_piece_of_the_id_or_name_filter_and_every_key_sorts_both_ways()
    {
        Assert.Equal(["d-old", "b-paper"], Ids(new SweepListing(States: [SweepState.Done])));
        Assert.Equal(["c-ablation", "b-paper"], Ids(new SweepListing(States: [SweepState.Done, SweepState.Cancelled], Match: "PAPER")));
        Assert.Equal(["a-smoke"], Ids(new SweepListing(Match: "smo")));
        Assert.Equal(["a-smoke", "b-paper", "c-ablation", "d-old"], Ids(new SweepListing("id", All: true)));
        Assert.Equal(["d-old", "c-ablation", "b-paper", "a-smoke"], Ids(new SweepListing("name", All: true)));
        // Running, done, cancelled; ties in id order.
        Assert.Equal(["a-smoke", "b-paper", "d-old", "c-ablation"], Ids(new SweepListing("state", All: true)));
        Assert.Equal(["b-paper", "c-ablation", "a-smoke", "d-old"], Ids(new SweepListing("jobs", All: true, Descending: true)));
    }

    [Fact]
    public void A_bad_sort_key_or_state_is_one_sentence()
    {
        Assert.Equal("--sort is 'size': use created, id, name, state, jobs.", new SweepListing("size").Problem());
        Assert.Throws<ArgumentException>(() => new SweepListing("size").Apply(Sweeps));
        Assert.Equal("'paused' is not a sweep state: use running, done or cancelled.",
            Assert.Throws<ArgumentException>(() => SweepListing.ParseState("paused")).Message);
        Assert.Equal(SweepState.Cancelled, SweepListing.ParseState(" Cancelled "));
    }

    [Fact]
    public void Compared_sweeps_match_jobs_by_model_bits_and_seed_show_differences_b_minus_a_and_the_settings_that_differ()
    {
        var cycles2 = SyntheticJobs.Spec("a.x", cycles: 2).Settings();
        var cycles3 = SyntheticJobs.Spec("b.x", cycles: 3).Settings();
        SweepJobState Job(string id, string bits, long seed, double? top1, double loss, IReadOnlyDictionary<string, string>? settings, long launched = 0, long ended = 0) =>
            new(id, "synthetic", bits, seed, JobPhase.Done,
                new JobMetrics(loss, EvolQ: top1 is { } t ? new TopAccuracy(t, null) : null),
                null, [new VisitRecord(0, 1, 2, loss, 3, 12)], settings, launched, ended);
        var a = new SweepDetail(new SweepSummary("a", "first", SweepState.Done, 3, 0, 0, 3, 0, 0, 1, 2),
        [
            Job("a.w4.s0", "W4A8", 0, 70.25, 0.5, cycles2, 1_000, 62_000),
            Job("a.w4.s1", "W4A8", 1, 71.00, 0.4, cycles2),
            Job("a.w3.s0", "W3A8", 0, null, 0.9, null),
        ], "a.conf");
        var b = new SweepDetail(new SweepSummary("b", "second", SweepState.Done, 2, 0, 0, 2, 0, 0, 1, 2),
        [
            Job("b.w4.s1", "W4A8", 1, 70.50, 0.45, cycles2),
            Job("b.w4.s0", "W4A8", 0, 71.00, 0.25, cycles3, 5_000, 3_605_000),
            Job("b.w8.s0", "W8A8", 0, 80.00, 0.1, cycles3),
        ], "b.conf");

        var (title, rows) = SweepComparison.Table(a, b);

        Assert.Equal("A = sweep a (first), B = sweep b (second): 2 jobs matched, 1 only in A, 1 only in B", title);
        Assert.Equal(["synthetic", "W4A8", "0", "70.25", "71.00", "+0.75", "0.500000", "0.250000", "-0.250000", "12", "12", "1:01", "1:00:00",
            "search.cycles 2→3"], rows[0]);
        Assert.Equal(["synthetic", "W4A8", "1", "71.00", "70.50", "-0.50", "0.400000", "0.450000", "+0.050000", "12", "12", "-", "-", "same"], rows[1]);
        Assert.Equal(["synthetic", "W3A8", "0", "-", "-", "-", "0.900000", "-", "-", "12", "-", "-", "-", "(only in A)"], rows[2]);
        Assert.Equal(["synthetic", "W8A8", "0", "-", "80.00", "-", "-", "0.100000", "-", "-", "12", "-", "-", "(only in B)"], rows[3]);
        Assert.All(rows, r => Assert.Equal(SweepComparison.Columns.Count, r.Count));
        // Jobs from a database written before settings were recorded cannot be told apart.
        Assert.Equal("?", SweepComparison.SettingsDifference(a.Jobs[2], b.Jobs[0]));
    }
}
