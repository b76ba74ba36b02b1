using EvolQ.Cluster.Sweeps;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests;

/// <summary>Sweep files: the shipped examples expand as documented; every mistake is listed with its line.</summary>
public sealed class SweepFileTests
{
    private static string Shipped(string name) => Path.Combine(AppContext.BaseDirectory, "sweeps", name);

    [Fact]
    public void The_demo_sweep_expands_to_six_jobs_of_the_tiny_model()
    {
        var spec = SweepFile.Load(Shipped("demo.conf"), checkPaths: false);

        Assert.Equal("demo", spec.SweepId);
        Assert.Equal(2, spec.MaxConcurrentJobs);
        Assert.Equal(6, spec.Jobs.Length);
        Assert.Equal(
            ["demo.vit_tiny_patch7_28.w4a8.s0", "demo.vit_tiny_patch7_28.w4a8.s1", "demo.vit_tiny_patch7_28.w4a8.s2",
             "demo.vit_tiny_patch7_28.w3a8.s0", "demo.vit_tiny_patch7_28.w3a8.s1", "demo.vit_tiny_patch7_28.w3a8.s2"],
            spec.Jobs.Select(j => j.Spec.JobId));
        var first = spec.Jobs[0].Spec;
        Assert.Equal("uint4", first.Quantization["w_bit_type"]);
        Assert.Equal("uint8", first.Quantization["a_bit_type"]);
        Assert.Equal((1000, 100, 0L), (first.CalibrationSize, first.CalibrationBatchSize, first.CalibrationSeed));
        Assert.Equal((4, 10, 3, 15), (first.Search.WeightBits, first.Search.Passes, first.Search.Cycles, first.Search.PopulationSize));
        Assert.Equal("fashion-mnist:test", first.ValidationData);
        Assert.Equal(3, spec.Jobs[5].Spec.Search.WeightBits);
        Assert.Equal(2, spec.Jobs[5].Spec.Search.Seed);
        Assert.All(spec.Jobs, j => Assert.Null(j.Spec.Problem()));
        Assert.Equal(0, spec.Retries);
    }

    [Fact]
    public void A_sweep_may_retry_failed_jobs_on_its_own_a_bounded_number_of_times()
    {
        static string Text(string retries) => $$"""
            sweep {
              models = [ { name = deit_tiny, checkpoint = "/c/d.pth" } ]
              calibration.data = "fashion-mnist:train"
              retries = {{retries}}
            }
            """;
        Assert.Equal(2, SweepFile.Parse(Text("2"), "r.conf", checkPaths: false).Retries);
        Assert.Equal("r.conf:4: sweep.retries is 101; it must be at most 100.",
            Assert.Single(Assert.Throws<SweepFileException>(() => SweepFile.Parse(Text("101"), "r.conf", checkPaths: false)).Errors));
        Assert.Equal("r.conf:4: sweep.retries is 'often', not an integer.",
            Assert.Single(Assert.Throws<SweepFileException>(() => SweepFile.Parse(Text("often"), "r.conf", checkPaths: false)).Errors));
    }

    [Fact]
    public void The_paper_sweep_expands_to_the_whole_table_with_paths_from_the_environment_or_defaults()
    {
        var spec = SweepFile.Load(Shipped("paper.conf"), checkPaths: false, environment: v => v == "IMAGENET" ? "/mnt/in1k" : null);

        Assert.Equal(81, spec.Jobs.Length);
        Assert.Equal(1, spec.Retries);
        Assert.Equal(9, spec.Jobs.Select(j => j.Model).Distinct().Count());
        Assert.Equal(["W3A8", "W4A8", "W8A8"], spec.Jobs.Select(j => j.Bits).Distinct());
        Assert.All(spec.Jobs, j => Assert.Equal("imagefolder:/mnt/in1k/train", j.Spec.CalibrationData));
        Assert.All(spec.Jobs, j => Assert.Equal("imagefolder:/mnt/in1k/val", j.Spec.ValidationData));
        Assert.Contains(spec.Jobs, j => j.Spec.CheckpointPath == "/checkpoints/LeViT-384-9bdaf2e2.pth");
        var unset = Assert.Throws<SweepFileException>(() => SweepFile.Parse(
            "sweep { models = [{ name = deit_tiny, checkpoint = \"${CKPT}/d.pth\" }], calibration.data = \"fashion-mnist:train\" }", "v.conf",
            checkPaths: false, environment: _ => null));
        Assert.Equal("v.conf:1: sweep.checkpoint needs the environment variable CKPT, which is not set.", Assert.Single(unset.Errors));
        Assert.Equal(8, spec.Jobs.First(j => j.Bits == "W8A8").Spec.Search.WeightBits);
    }

    [Fact]
    public void The_search_start_is_read_by_name_and_a_wrong_one_is_listed_with_its_line()
    {
        const string Head = "sweep { models = [{ name = vit_tiny_patch7_28, checkpoint = m.safetensors }], calibration.data = \"fashion-mnist:train\"\n";
        var paper = SweepFile.Parse(Head + "}", "p.conf", checkPaths: false);
        Assert.All(paper.Jobs, j => Assert.Equal(EvolQ.Search.SearchStart.Calibrated, j.Spec.Search.Start));
        Assert.Equal("calibrated", paper.Jobs[0].Spec.Settings()["search.start"]);

        var ours = SweepFile.Parse(Head + "search { start = weight-mse }\n}", "o.conf", checkPaths: false);
        Assert.All(ours.Jobs, j => Assert.Equal(EvolQ.Search.SearchStart.WeightMse, j.Spec.Search.Start));
        Assert.Equal("weight-mse", ours.Jobs[0].Spec.Settings()["search.start"]);

        var wrong = Assert.Throws<SweepFileException>(() => SweepFile.Parse(Head + "search { start = mse }\n}", "w.conf", checkPaths: false));
        Assert.Equal("w.conf:2: search.start 'mse' is not one of calibrated, weight-mse.", Assert.Single(wrong.Errors));
    }

    [Theory]
    [InlineData("demo-relative.conf", "demo-rel", "search.mutation-range=0.1 search.relative-mutation=true")]
    [InlineData("demo-weight-mse.conf", "demo-mse", "search.start=weight-mse")]
    public void A_beyond_paper_demo_sweep_is_the_demo_but_for_its_one_option(string file, string id, string differences)
    {
        // Same jobs, same budget: the comparison in the README is of the option alone.
        var demo = SweepFile.Load(Shipped("demo.conf"), checkPaths: false);
        var ours = SweepFile.Load(Shipped(file), checkPaths: false);
        Assert.Equal(id, ours.SweepId);
        Assert.Equal(demo.Jobs.Select(j => (j.Model, j.Bits, j.Seed)), ours.Jobs.Select(j => (j.Model, j.Bits, j.Seed)));
        foreach (var (paper, option) in demo.Jobs.Zip(ours.Jobs))
        {
            var a = paper.Spec.Settings();
            var b = option.Spec.Settings();
            Assert.Equal(a.Keys.Order(StringComparer.Ordinal), b.Keys.Order(StringComparer.Ordinal));
            Assert.Equal($"options.sweep={id} {differences}",
                string.Join(' ', b.Where(kv => a[kv.Key] != kv.Value).Select(kv => $"{kv.Key}={kv.Value}").Order(StringComparer.Ordinal)));
        }
    }

    [Fact]
    public void The_mutation_range_is_the_papers_unless_the_file_sets_one()
    {
        const string Head = "sweep { models = [{ name = vit_tiny_patch7_28, checkpoint = m.safetensors }], calibration.data = \"fashion-mnist:train\"\n";
        var paper = SweepFile.Parse(Head + "}", "p.conf", checkPaths: false);
        Assert.All(paper.Jobs, j => Assert.Null(j.Spec.Search.MutationRange));
        Assert.Equal("", paper.Jobs[0].Spec.Settings()["search.mutation-range"]);

        var ours = SweepFile.Parse(Head + "search { relative-mutation = on, mutation-range = 0.03 }\n}", "o.conf", checkPaths: false);
        Assert.All(ours.Jobs, j => Assert.Equal(0.03, j.Spec.Search.MutationRange));
        Assert.All(ours.Jobs, j => Assert.True(j.Spec.Search.RelativeMutation));

        var wrong = Assert.Throws<SweepFileException>(() => SweepFile.Parse(Head + "search { mutation-range = -1 }\n}", "w.conf", checkPaths: false));
        Assert.Equal("w.conf:2: sweep.search.mutation-range is '-1', not a positive number.", Assert.Single(wrong.Errors));
    }

    [Fact]
    public void The_calibration_order_is_seeded_unless_the_file_asks_for_file_order()
    {
        const string Head = "sweep { models = [{ name = vit_tiny_patch7_28, checkpoint = m.safetensors }]\n";
        var seeded = SweepFile.Parse(Head + "calibration.data = \"fashion-mnist:train\" }", "s.conf", checkPaths: false);
        Assert.All(seeded.Jobs, j => Assert.Equal(EvolQ.Data.CalibrationOrder.Seeded, j.Spec.CalibrationOrder));
        Assert.Equal("seeded", seeded.Jobs[0].Spec.Settings()["calibration.order"]);

        var file = SweepFile.Parse(Head + "calibration { data = \"fashion-mnist:train\", order = file } }", "f.conf", checkPaths: false);
        Assert.All(file.Jobs, j => Assert.Equal(EvolQ.Data.CalibrationOrder.File, j.Spec.CalibrationOrder));
        Assert.Equal("file", file.Jobs[0].Spec.Settings()["calibration.order"]);

        var wrong = Assert.Throws<SweepFileException>(() => SweepFile.Parse(Head + "calibration { data = \"fashion-mnist:train\", order = random } }", "w.conf", checkPaths: false));
        Assert.Equal("w.conf:2: calibration.order 'random' is not one of seeded, file.", Assert.Single(wrong.Errors));
    }

    [Fact]
    public void Every_mistake_is_listed_once_with_the_line_it_is_on()
    {
        using var dir = new TempDirectory();
        var text = """
            sweep {
              id = broken
              max-concurrent-jobs = 0
              models = [
                { name = deit_tiny, checkpoint = "/nowhere/deit_tiny.pth" }
                { name = resnet50, checkpoint = "/nowhere/r50.pth" }
              ]
              bits = [W4A8, W9A8, "4bit"]
              seeds = [0, 1, 1]
              calibration { size = 10, batch-size = 100 }
              search { passes = 0 }
              seed = 3
              retries = -2
            }
            """;
        var error = Assert.Throws<SweepFileException>(() => SweepFile.Parse(text, "broken.conf"));

        Assert.Equal(
            [
                "broken.conf:12: unknown setting 'sweep.seed' (did you mean 'seeds'? known: id, name, max-concurrent-jobs, retries, models, bits, seeds, calibration, validation, search, fitness).",
                "broken.conf:3: sweep.max-concurrent-jobs is 0; it must be at least 1.",
                "broken.conf:13: sweep.retries is -2; it must be at least 0.",
                "broken.conf:5: the checkpoint of deit_tiny, /nowhere/deit_tiny.pth, does not exist.",
                "broken.conf:8: the bit width 'W9A8' is outside 2 to 8 bits.",
                "broken.conf:8: the bit width '4bit' is not of the form W4A8 (weight bits, activation bits).",
                "broken.conf:9: the seed 1 is listed twice.",
                "broken.conf:10: sweep.calibration.data is missing (fashion-mnist:train|test[:DIR], imagefolder:DIR, npy:IMAGES.npy,LABELS.npy or preprocessed:IMAGES.npy,LABELS.npy).",
                "broken.conf:10: calibration.batch-size (100) is larger than calibration.size (10).",
                "broken.conf:11: sweep.search.passes is 0; it must be at least 1.",
            ],
            error.Errors.Where(e => !e.Contains("resnet50", StringComparison.Ordinal)).Take(10));
        Assert.Contains(error.Errors, e => e.StartsWith("broken.conf:6: There is no model named 'resnet50'", StringComparison.Ordinal));
        Assert.StartsWith($"broken.conf has {error.Errors.Count} problems:\n  broken.conf:12:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Not_hocon_a_missing_block_and_a_missing_file_each_give_one_sentence()
    {
        Assert.StartsWith("x.conf: not valid HOCON:", Assert.Single(Assert.Throws<SweepFileException>(() => SweepFile.Parse("sweep { id = ${no.such.setting} }", "x.conf")).Errors), StringComparison.Ordinal);
        Assert.Equal("y.conf:1: the file has no 'sweep { ... }' block.", Assert.Single(Assert.Throws<SweepFileException>(() => SweepFile.Parse("models = []", "y.conf")).Errors));
        Assert.Equal("/no/such.conf: there is no such sweep file.", Assert.Throws<SweepFileException>(() => SweepFile.Load("/no/such.conf")).Message);
    }

    [Fact]
    public void Paths_are_checked_where_the_sweep_runs()
    {
        using var dir = new TempDirectory();
        var checkpoint = dir.File("tiny.safetensors");
        File.WriteAllBytes(checkpoint, [0]);
        var text = $$"""
            sweep {
              models = [ { name = vit_tiny_patch7_28, checkpoint = "{{checkpoint}}" } ]
              calibration { data = "npy:{{dir.File("x.npy")}},{{dir.File("y.npy")}}" }
            }
            """;
        var error = Assert.Throws<SweepFileException>(() => SweepFile.Parse(text, "p.conf"));
        Assert.Equal($"p.conf:3: sweep.calibration.data names {dir.File("x.npy")}, which does not exist.", Assert.Single(error.Errors));
        Assert.Single(SweepFile.Parse(text, "p.conf", checkPaths: false).Jobs);
    }
}
