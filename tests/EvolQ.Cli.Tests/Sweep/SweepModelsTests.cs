using System.Globalization;
using EvolQ.Cli.Tests.Ctl;
using EvolQ.Cluster;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Workers;
using EvolQ.Engine.Evaluation;
using EvolQ.Quantization;
using EvolQ.Search;
using EvolQ.TensorIO;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests.Sweep;

/// <summary>
/// A cluster job's quantized-model file: the worker writes it beside the sweep's results when the final scales are
/// evaluated, `evolq eval` reproduces the recorded top-1, and `evolq sweep export --db` writes the same bytes again
/// from the results tables with no node running.
/// </summary>
[Trait("Category", "Slow")]
public sealed class SweepModelsTests : IDisposable
{
    private const string SweepId = "qm";
    private readonly TempDirectory folder = new("evolq-sweep-models");

    [Fact]
    public async Task The_worker_file_reproduces_its_top1_and_sweep_export_writes_the_same_bytes_from_the_database_or_through_a_node()
    {
        // The file records the torch thread count it was computed with (math_libraries), a process-wide setting that
        // other tests in this process change: the worker here, `eval --threads 1` and the export (which keeps the
        // process's count) all run at one thread, as the same bytes need the same conditions.
        TorchSharp.torch.set_num_threads(1);
        var spec = Spec();
        var root = folder.File("runs");
        float[][] searched;
        JobMetrics metrics;
        using (var worker = new EngineBackend("cpu", modelsRoot: root))
        {
            var prepared = worker.Prepare(spec, CancellationToken.None);
            // A search result: every block's scales moved off the calibrated ones.
            searched = prepared.InitialScales.Select(block => block.Select(s => s * 1.01f).ToArray()).ToArray();
            metrics = worker.EvaluateFinal(spec.JobId, searched);
        }
        var written = Path.Combine(root, SweepId, "models", spec.JobId + ".evolq.safetensors");
        Assert.Equal(written, EngineBackend.ModelFilePath(root, spec));
        Assert.True(File.Exists(written), "the worker wrote no model file");
        using (var content = SafeTensorsFile.Read(written))
        {
            // Every metric reads back from the file as the same double (top-1 among them).
            Assert.NotNull(metrics.EvolQ);
            Assert.Equal(metrics, ModelFileMetadata.Metrics(content.Metadata));
            Assert.Equal(spec.JobId, content.Metadata["job"]);
            Assert.Equal("200", content.Metadata["val_images"]);
            Assert.Equal(ModelFileMetadata.Sha256Of(DemoModel.Checkpoint), content.Metadata["checkpoint_sha256"]);
        }

        var eval = Cli.Run("eval", "--quantized", written, "--data", "fashion-mnist:test", "--limit", "200", "--threads", "1");
        eval.AssertSuccess();
        Assert.Contains("on these 200 images: reproduced exactly.", eval.Output, StringComparison.Ordinal);

        // The results tables as a sweep manager leaves them: the job's spec from the submission, scales and metrics from its end.
        var db = folder.File("evolq.db");
        var results = new ResultsDatabase(JournalDatabase.Parse(db));
        using (var connection = results.Open())
        {
            var sequence = results.EnsureSchema(connection);
            IJobEvent[] events =
            [
                new SweepSubmitted(new SweepSpec(SweepId, "models", [new SweepJob(spec, "vit_tiny_patch7_28", "W4A8", 3)], 1, "qm.conf"), 1_000),
                new SweepJobLaunched(SweepId, spec.JobId, 1_100),
                new SweepJobEnded(SweepId, spec.JobId, JobPhase.Done, metrics, null, [], 2_000, searched),
            ];
            foreach (var e in events)
                results.Apply(connection, ++sequence, e);
        }

        var again = folder.File("again");
        var run = Cli.Run("sweep", "export", SweepId, "--db", db, "--out", again);
        run.AssertSuccess();
        Assert.Equal(File.ReadAllBytes(written), File.ReadAllBytes(Path.Combine(again, spec.JobId + ".evolq.safetensors")));

        var unknown = Cli.Run("sweep", "models", SweepId, "--db", db, "--out", again, "--job", "qm.nope").AssertUserError();
        Assert.Equal("Sweep 'qm' has no job 'qm.nope'.", unknown);

        // Through a node whose journal is that database: the node reads its results tables, this process writes the file.
        const string token = "models-token";
        await using (var node = await EvolQNode.StartAsync(CtlTestNode.NodeConfigFor(db, token), []))
        {
            node.StartCtl();
            var endpoint = $"127.0.0.1:{node.Ctl!.EndPoint.Port}";
            var viaNode = folder.File("via-node");
            Cli.Run("sweep", "export", SweepId, "--node", endpoint, "--token", token, "--out", viaNode).AssertSuccess();
            Assert.Equal(File.ReadAllBytes(written), File.ReadAllBytes(Path.Combine(viaNode, spec.JobId + ".evolq.safetensors")));
            var refused = Cli.Run("sweep", "export", SweepId, "--node", endpoint, "--token", token, "--out", viaNode, "--job", "qm.nope").AssertUserError();
            Assert.Equal("Sweep 'qm' has no job 'qm.nope'.", refused);
        }
    }

    [Fact]
    public void A_weight_mse_start_begins_the_search_from_shrunk_scales_and_keeps_the_fqvit_baseline()
    {
        var paper = Spec();
        var ours = Spec(SearchStart.WeightMse) with { JobId = "qm.vit_tiny_patch7_28.w4a8.s3.mse" };
        float[][] calibrated, shrunk;
        JobMetrics paperMetrics, oursMetrics;
        using (var worker = new EngineBackend("cpu", modelsRoot: folder.File("runs")))
        {
            calibrated = worker.Prepare(paper, CancellationToken.None).InitialScales;
            shrunk = worker.Prepare(ours, CancellationToken.None).InitialScales;
            paperMetrics = worker.EvaluateFinal(paper.JobId, calibrated);
            oursMetrics = worker.EvaluateFinal(ours.JobId, shrunk);
        }

        // Every scale is its calibrated one times a factor 1 - 0.01 i; most channels shrink.
        var ratios = calibrated.Zip(shrunk, (c, s) => c.Zip(s, (a, b) => b / a)).SelectMany(r => r).ToArray();
        Assert.All(ratios, r => Assert.InRange(r, 0.11f - 1e-5f, 1f + 1e-6f));
        Assert.True(ratios.Count(r => r < 1f) > ratios.Length / 2, $"{ratios.Count(r => r < 1f)} of {ratios.Length} scales shrank");
        // The FQ-ViT columns are the calibrated model's, whatever the start; the start's own model differs.
        Assert.Equal(paperMetrics.FqVitLoss, oursMetrics.FqVitLoss);
        Assert.Equal(paperMetrics.FqVit, oursMetrics.FqVit);
        Assert.Equal(paperMetrics.Float!.Top1, oursMetrics.Float!.Top1);
        Assert.Equal(paperMetrics.FqVitLoss, paperMetrics.Loss);
        Assert.NotEqual(oursMetrics.FqVitLoss, oursMetrics.Loss);
        using var content = SafeTensorsFile.Read(EngineBackend.ModelFilePath(folder.File("runs"), ours));
        Assert.Equal("weight-mse", content.Metadata["search_start"]);
    }

    private static JobSpec Spec(SearchStart start = SearchStart.Calibrated) => new(
        "qm.vit_tiny_patch7_28.w4a8.s3", "vit_tiny_patch7_28", DemoModel.Checkpoint, "fashion-mnist:train", "fashion-mnist:test",
        new Dictionary<string, string>(new QuantizationConfig().ToMetadata()), 64, 32, 3,
        new SearchSettings { WeightBits = 4, Seed = 3, Passes = 1, Cycles = 1, PopulationSize = 4, TournamentSize = 2, Offspring = 1, Start = start }, "infonce", 0.5,
        new Dictionary<string, string> { [EngineBackend.SweepOption] = SweepId, ["validation-limit"] = 200.ToString(CultureInfo.InvariantCulture) });

    public void Dispose() => folder.Dispose();
}
