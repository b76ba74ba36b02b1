using System.Text.Json;
using EvolQ.Engine.Quantize;
using static EvolQ.Engine.Quantize.ResultsTable;

namespace EvolQ.Engine.Tests.Quantize;

/// <summary>The results table: statistics over seeds, partial rows, row order, and the exact markdown, CSV and JSON.</summary>
public sealed class ResultsTableTests
{
    // Chosen so that means and sample stds are exact in binary: W4A8 Evol-Q 70, 71, 72 → 71 ± 1.
    private static readonly Entry[] Sweep =
    [
        new("deit_tiny", "W3A8", 0, Outcome.Done, 72.25, 40.125, 55.5),
        new("deit_tiny", "W3A8", 1, Outcome.Failed, null, null, null),
        new("deit_tiny", "W3A8", 2, Outcome.Unfinished, null, null, null),
        new("deit_tiny", "W4A8", 2, Outcome.Done, 72.25, 68.5, 72),
        new("deit_tiny", "W4A8", 0, Outcome.Done, 72.25, 66.5, 70),
        new("deit_tiny", "W4A8", 1, Outcome.Done, 72.25, 67.5, 71),
        new("deit_tiny", "W8A8", 0, Outcome.Done, 72.25, 72.1, 72.2),
        new("deit_tiny", "W8A8", 1, Outcome.Done, 72.25, 72.2, 72.3),
        new("deit_tiny", "W16A16", 0, Outcome.Done, null, null, 72.25),
        new("vit_base", "W4A8", 0, Outcome.Unfinished, null, null, null),
    ];

    [Fact]
    public void Rows_hold_mean_and_sample_std_over_done_seeds_and_count_the_rest()
    {
        var rows = Summarize(Sweep);
        Assert.Equal(["deit_tiny W16A16", "deit_tiny W8A8", "deit_tiny W4A8", "deit_tiny W3A8", "vit_base W4A8"],
            rows.Select(r => $"{r.Model} {r.WeightBits}"));
        var w4 = rows[2];
        Assert.Equal((3, 0, 0, false), (w4.Seeds, w4.Failed, w4.Unfinished, w4.IsPartial));
        Assert.Equal(new Stat(71, 1, 3), w4.EvolQ);
        Assert.Equal(new Stat(67.5, 1, 3), w4.FqVit);
        Assert.Equal(new Stat(72.25, 0, 3), w4.Float);
        Assert.Equal(3.5, w4.Gain);
        Assert.Equal([0L, 1, 2], w4.Jobs.Select(j => j.Seed));
        var w3 = rows[3];
        Assert.Equal((1, 1, 1, true), (w3.Seeds, w3.Failed, w3.Unfinished, w3.IsPartial));
        Assert.Equal(new Stat(55.5, 0, 1), w3.EvolQ);
        var empty = rows[4];
        Assert.Equal((0, 0, 1), (empty.Seeds, empty.Failed, empty.Unfinished));
        Assert.Null(empty.EvolQ);
        Assert.Null(empty.Gain);
        Assert.Null(rows[0].FqVit);
    }

    [Fact]
    public void Markdown_marks_partial_rows_and_says_the_table_is_partial()
    {
        const string expected = """
            | model | weights | seeds | float top-1 | FQ-ViT top-1 | Evol-Q top-1 | Evol-Q - FQ-ViT |
            |---|---|---|---|---|---|---|
            | deit_tiny | W16A16 | 1 |  |  | 72.25 |  |
            | deit_tiny | W8A8 | 2 | 72.25 ± 0.00 | 72.15 ± 0.07 | 72.25 ± 0.07 | +0.10 |
            | deit_tiny | W4A8 | 3 | 72.25 ± 0.00 | 67.50 ± 1.00 | 71.00 ± 1.00 | +3.50 |
            | deit_tiny | W3A8 | 1 (1 failed, 1 unfinished) | 72.25 | 40.13 | 55.50 | +15.38 |
            | vit_base | W4A8 | 0 (1 unfinished) |  |  |  |  |

            Partial table: 1 failed, 2 unfinished jobs are not in the means.

            """;
        Assert.Equal(expected.ReplaceLineEndings("\n"), ToMarkdown(Summarize(Sweep)).ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Markdown_of_a_complete_table_has_no_partial_note()
    {
        var text = ToMarkdown(Summarize(Sweep.Where(e => e.Outcome == Outcome.Done)));
        Assert.DoesNotContain("Partial", text, StringComparison.Ordinal);
        Assert.DoesNotContain("failed", text, StringComparison.Ordinal);
        Assert.Equal(2 + 4, text.TrimEnd().Split('\n').Length);
    }

    [Fact]
    public void Csv_is_rfc4180_with_means_and_stds_in_their_own_columns_without_binary_noise()
    {
        var expected =
            "model,weights,seeds,failed,unfinished,float_top1_mean,float_top1_std,fqvit_top1_mean,fqvit_top1_std,evolq_top1_mean,evolq_top1_std,evolq_minus_fqvit\r\n" +
            "deit_tiny,W16A16,1,0,0,,,,,72.25,0,\r\n" +
            // The gain 72.25 - 72.15 is 0.09999999999999432 in binary; six decimals keep what the accuracies mean.
            "deit_tiny,W8A8,2,0,0,72.25,0,72.15,0.070711,72.25,0.070711,0.1\r\n" +
            "deit_tiny,W4A8,3,0,0,72.25,0,67.5,1,71,1,3.5\r\n" +
            "deit_tiny,W3A8,1,1,1,72.25,0,40.125,0,55.5,0,15.375\r\n" +
            "vit_base,W4A8,0,0,1,,,,,,,\r\n";
        Assert.Equal(expected, ToCsv(Summarize(Sweep)));
    }

    [Fact]
    public void Csv_quotes_fields_with_commas_quotes_and_line_breaks_and_ignores_the_current_culture()
    {
        var culture = Thread.CurrentThread.CurrentCulture;
        Thread.CurrentThread.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
        try
        {
            var csv = ToCsv(Summarize([new Entry("a,\"b\"", "W4\nA8", 0, Outcome.Done, 1.5, null, null)]));
            Assert.Equal("\"a,\"\"b\"\"\",\"W4\nA8\",1,0,0,1.5,0,,,,,\r\n", csv.Split("\r\n", 2)[1]);
        }
        finally
        {
            Thread.CurrentThread.CurrentCulture = culture;
        }
    }

    [Fact]
    public void Json_has_fixed_names_statistics_and_every_job()
    {
        var rows = Summarize(Sweep.Where(e => e.Model == "deit_tiny" && e.WeightBits == "W3A8"));
        const string expected = """
            {
              "rows": [
                {
                  "model": "deit_tiny",
                  "weights": "W3A8",
                  "seeds": 1,
                  "failed": 1,
                  "unfinished": 1,
                  "float_top1": {
                    "mean": 72.25,
                    "std": 0,
                    "n": 1
                  },
                  "fqvit_top1": {
                    "mean": 40.125,
                    "std": 0,
                    "n": 1
                  },
                  "evolq_top1": {
                    "mean": 55.5,
                    "std": 0,
                    "n": 1
                  },
                  "evolq_minus_fqvit": 15.375,
                  "jobs": [
                    {
                      "seed": 0,
                      "outcome": "done",
                      "float_top1": 72.25,
                      "fqvit_top1": 40.125,
                      "evolq_top1": 55.5
                    },
                    {
                      "seed": 1,
                      "outcome": "failed",
                      "float_top1": null,
                      "fqvit_top1": null,
                      "evolq_top1": null
                    },
                    {
                      "seed": 2,
                      "outcome": "unfinished",
                      "float_top1": null,
                      "fqvit_top1": null,
                      "evolq_top1": null
                    }
                  ]
                }
              ]
            }

            """;
        Assert.Equal(expected.ReplaceLineEndings("\n"), ToJson(rows));
    }

    [Fact]
    public void Json_numbers_round_trip_and_unknown_statistics_are_null()
    {
        using var json = JsonDocument.Parse(ToJson(Summarize(Sweep)));
        var rows = json.RootElement.GetProperty("rows");
        Assert.Equal(5, rows.GetArrayLength());
        var w8 = rows[1];
        Assert.Equal(0.07071067811865074, w8.GetProperty("evolq_top1").GetProperty("std").GetDouble());
        Assert.Equal(72.3, w8.GetProperty("jobs")[1].GetProperty("evolq_top1").GetDouble());
        Assert.Equal(JsonValueKind.Null, rows[0].GetProperty("fqvit_top1").ValueKind);
        Assert.Equal(JsonValueKind.Null, rows[4].GetProperty("evolq_minus_fqvit").ValueKind);
    }

    [Fact]
    public void Local_reports_group_by_weight_bit_type_and_read_their_seed()
    {
        static QuantizeReport Report(string bits, int seed, double evolQ) => new()
        {
            Model = "vit_tiny_patch7_28",
            Settings = new Dictionary<string, string> { ["w_bit_type"] = bits, ["seed"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            Float = new AccuracyRecord(88, 99, 200),
            FqVit = new AccuracyRecord(80, 98, 200),
            EvolQ = new AccuracyRecord(evolQ, 98, 200),
            Selection = "final",
            Visits = [],
            Device = "cpu",
        };
        var rows = Summarize([Report("uint4", 2, 84), Report("uint8", 1, 87.5), Report("uint4", 1, 82)]);
        Assert.Equal(["uint8", "uint4"], rows.Select(r => r.WeightBits));
        Assert.Equal([1L, 2], rows[1].Jobs.Select(j => j.Seed));
        Assert.Equal(83, rows[1].EvolQ!.Value.Mean);
        Assert.Contains("| vit_tiny_patch7_28 | uint4 | 2 | 88.00 ± 0.00 | 80.00 ± 0.00 | 83.00 ± 1.41 | +3.00 |", ToMarkdown(rows), StringComparison.Ordinal);
    }
}
