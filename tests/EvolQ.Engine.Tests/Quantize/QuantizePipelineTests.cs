using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.Quantize;
using EvolQ.Models;
using EvolQ.Search;
using EvolQ.TensorIO;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Engine.Tests.Quantize;

/// <summary>The local Evol-Q job on real Fashion-MNIST files with a random tiny checkpoint: results, resume, refusal.</summary>
[Trait("Category", "Slow")]
public sealed class QuantizePipelineTests : IDisposable
{
    private readonly TempDirectory folder = new("evolq-quantize");
    private readonly string checkpoint;

    public QuantizePipelineTests()
    {
        checkpoint = folder.File("tiny.safetensors");
        using var model = TinyJob.RandomModel(seed: 21);
        SafeTensorsFile.Write(checkpoint, model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)));
    }

    private QuantizeJob Job(string name, int holdout = 0, SelectionMode selection = SelectionMode.Final) => new()
    {
        Model = ModelRegistry.Get("vit_tiny_patch7_28"),
        CheckpointPath = checkpoint,
        CalibrationData = DataSpec.Parse("fashion-mnist:train"),
        Calibration = new CalibrationOptions { Size = 200, BatchSize = 100, Seed = 3 },
        HoldoutSize = holdout,
        Selection = selection,
        ValidationData = DataSpec.Parse("fashion-mnist:test"),
        ValidationLimit = 200,
        Search = QuantizeJob.PaperSearch with { Passes = 2, Cycles = 2 },
        OutputDirectory = folder.File(name),
    };

    [Fact]
    public void A_job_stopped_mid_search_resumes_and_ends_bit_identical_to_an_uninterrupted_one()
    {
        var whole = QuantizePipeline.Run(Job("whole"));

        using var stop = new CancellationTokenSource();
        var stopAfter = new Progress(p =>
        {
            if (p.Stage == "searching" && p.EvaluationsDone >= 7)
                stop.Cancel();
        });
        Assert.ThrowsAny<OperationCanceledException>(() => QuantizePipeline.Run(Job("stopped"), stopAfter, stop.Token));
        Assert.True(File.Exists(Path.Combine(folder.File("stopped"), "search.state")));
        Assert.False(File.Exists(Path.Combine(folder.File("stopped"), "evolq.safetensors")));
        var resumed = QuantizePipeline.Run(Job("stopped"));

        Assert.Equal(whole.Visits.Select(v => (v.Pass, v.Block, v.InitialLoss, v.BestLoss)), resumed.Visits.Select(v => (v.Pass, v.Block, v.InitialLoss, v.BestLoss)));
        Assert.Equal(whole.EvolQ, resumed.EvolQ);
        using var a = SafeTensorsFile.Read(Path.Combine(folder.File("whole"), "evolq.safetensors"));
        using var b = SafeTensorsFile.Read(Path.Combine(folder.File("stopped"), "evolq.safetensors"));
        Assert.Equal(a.Names, b.Names);
        foreach (var name in a.Names)
            Assert.True(a[name].allclose(b[name], 0, 0), name);
    }

    [Fact]
    public void The_report_holds_every_visit_and_a_block_loss_never_rises_within_a_visit()
    {
        var report = QuantizePipeline.Run(Job("report"));
        Assert.Equal(2 * 4, report.Visits.Count);
        Assert.Equal(["blocks.3.attn", "blocks.2.attn", "blocks.1.attn", "blocks.0.attn"], report.Visits.Take(4).Select(v => v.BlockName));
        Assert.All(report.Visits, v => Assert.True(v.BestLoss <= v.InitialLoss));
        Assert.Equal(2 * 4 * (1 + 2), report.Evaluations);
        Assert.NotNull(report.Float);
        Assert.NotNull(report.FqVit);
        Assert.NotNull(report.EvolQ);
        Assert.Contains("| Evol-Q |", File.ReadAllText(Path.Combine(folder.File("report"), "report.md")));
        // A finished job is not run again: the same command returns its report.
        Assert.Equal(report.Visits, QuantizePipeline.Run(Job("report")).Visits);
    }

    [Fact]
    public void Holdout_selection_scores_every_visit_and_keeps_the_papers_rule()
    {
        var report = QuantizePipeline.Run(Job("holdout", holdout: 100, selection: SelectionMode.Holdout));
        Assert.All(report.Visits, v => Assert.NotNull(v.SelectionTop1));
        var secondPass = report.Visits.Where(v => v.Pass == 1).ToArray();
        var lastFirstPass = report.Visits.Last(v => v.Pass == 0).SelectionTop1!.Value;
        var best = secondPass.Aggregate((Top1: lastFirstPass, Visit: "pass 1, blocks.0.attn"),
            (kept, v) => v.SelectionTop1 > kept.Top1 ? (v.SelectionTop1!.Value, $"pass 2, {v.BlockName}") : kept);
        Assert.Equal(best.Visit, report.SelectedVisit);
    }

    [Fact]
    public void The_mutation_range_is_part_of_a_jobs_identity_only_when_set()
    {
        // Unset, the identity is what folders written before the setting hold, so they still resume.
        Assert.DoesNotContain("mutation_range", Job("a").Identity().Keys);
        Assert.Equal("0.1", (Job("a") with { Search = QuantizeJob.PaperSearch with { Passes = 2, Cycles = 2, MutationRange = 0.1 } }).Identity()["mutation_range"]);
    }

    [Fact]
    public void A_jobs_identity_spells_each_knob_as_the_run_folders_written_before_the_knob_table()
    {
        var job = Job("a");
        var ours = job with
        {
            Search = job.Search with
            {
                PopulationSize = 6, TournamentSize = 3, Offspring = 2, RelativeMutation = true, MutationRange = 1.0 / 3,
                Start = SearchStart.WeightMse,
            },
        };
        string[] knobs = ["passes", "cycles", "population", "tournament", "offspring", "relative_mutation", "mutation_range", "search_start"];
        Assert.Equal(
            [
                ("cycles", "2"), ("mutation_range", "0.3333333333333333"), ("offspring", "2"), ("passes", "2"), ("population", "6"),
                ("relative_mutation", "true"), ("search_start", "weight-mse"), ("tournament", "3"),
            ],
            ours.Identity().Where(p => knobs.Contains(p.Key)).Select(p => (p.Key, p.Value)).ToArray());
    }

    [Fact]
    public void A_folder_of_another_job_is_refused_with_one_sentence()
    {
        QuantizePipeline.Run(Job("taken") with { Search = QuantizeJob.PaperSearch with { Passes = 1, Cycles = 0 } });
        var error = Assert.Throws<RunFolderException>(() => QuantizePipeline.Run(Job("taken") with { Search = QuantizeJob.PaperSearch with { Passes = 1, Cycles = 0 }, Calibration = new CalibrationOptions { Size = 200, BatchSize = 100, Seed = 4 } }));
        Assert.Contains("holds a different job (seed was '3')", error.Message);
    }

    public void Dispose() => folder.Dispose();

    private sealed class Progress(Action<QuantizeProgress> report) : IProgress<QuantizeProgress>
    {
        public void Report(QuantizeProgress value) => report(value);
    }
}
