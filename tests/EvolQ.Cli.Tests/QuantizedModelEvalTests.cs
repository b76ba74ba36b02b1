using System.Globalization;
using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Engine.Evaluation;
using EvolQ.Engine.Quantize;
using EvolQ.Models;
using EvolQ.Models.Levit;
using EvolQ.Models.Swin;
using EvolQ.Quantization;
using EvolQ.TensorIO;
using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Cli.Tests;

/// <summary>
/// A finished local job's quantized-model file, per model family: `evolq eval --quantized` on the job's validation
/// images gives exactly the Evol-Q top-1 the job recorded, and the same job run elsewhere writes the same bytes.
/// </summary>
[Trait("Category", "Slow")]
public sealed class QuantizedModelEvalTests : IDisposable
{
    private const string ValidationData = "fashion-mnist:test";
    private const int ValidationLimit = 300;
    private readonly TempDirectory folder = new("evolq-qmodel-eval");

    public static TheoryData<string> Families() => ["vit", "levit", "swin"];

    [Theory]
    [MemberData(nameof(Families))]
    public void Eval_of_the_job_file_reproduces_the_recorded_evolq_top1_exactly(string family)
    {
        var (model, checkpoint) = Family(family);
        // The thread count the file records beside the math libraries' settings; eval below runs with the same.
        set_num_threads(1);
        var report = QuantizePipeline.Run(Job(model, checkpoint, "job"));
        var file = Path.Combine(folder.File("job"), "evolq.safetensors");
        Assert.NotNull(report.EvolQ);

        double recorded;
        using (var content = SafeTensorsFile.Read(file))
        {
            var metadata = content.Metadata;
            var metrics = ModelFileMetadata.Metrics(metadata);
            recorded = metrics?.EvolQ?.Top1 ?? throw new Xunit.Sdk.XunitException("no recorded top-1");
            Assert.Equal(report.EvolQ!.Top1, recorded);
            Assert.Equal(report.FqVit!.Top1, metrics.FqVit?.Top1);
            // The local pipeline records accuracies only, under the cluster's names.
            Assert.Null(metrics.Loss);
            Assert.Equal(
                ["metric.float_top1", "metric.float_top5", "metric.fqvit_top1", "metric.fqvit_top5", "metric.top1", "metric.top5"],
                metadata.Keys.Where(k => k.StartsWith("metric.", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
            Assert.Equal(ModelFileMetadata.Sha256Of(checkpoint), metadata["checkpoint_sha256"]);
            Assert.Equal(model.Name, metadata["model"]);
            Assert.Equal("3", metadata["seed"]);
            Assert.Equal("1", metadata["passes"]);
            Assert.Equal(ValidationData, metadata["val_data"]);
            Assert.DoesNotContain(metadata, m => m.Key.Contains("seconds", StringComparison.Ordinal) || m.Value.Contains(folder.Path, StringComparison.Ordinal));
        }

        var run = Cli.Run("eval", "--quantized", file, "--data", ValidationData, "--limit", ValidationLimit.ToString(CultureInfo.InvariantCulture), "--threads", "1");
        run.AssertSuccess();
        Assert.Equal(Math.Round(recorded, 2), run.Percent("top-1"));
        Assert.Contains($"on these {ValidationLimit} images: reproduced exactly.", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Note: the file was written with", run.Output, StringComparison.Ordinal);

        // Under another thread count eval says what the file was made with, since the last digit may then differ.
        var other = Cli.Run("eval", "--quantized", file, "--data", ValidationData, "--limit", "10", "--threads", "2");
        set_num_threads(1);
        other.AssertSuccess();
        Assert.Contains("Note: the file was written with", other.Output, StringComparison.Ordinal);
        Assert.Contains("threads=1; this process runs", other.Output, StringComparison.Ordinal);
        Assert.Contains("threads=2, so the last digits may differ", other.Output, StringComparison.Ordinal);
    }

    /// <summary>Another folder and another copy of the checkpoint (another node) give the same file, byte for byte.</summary>
    [Fact]
    public void The_same_job_writes_the_same_bytes_from_another_folder_and_checkpoint_copy()
    {
        var (model, checkpoint) = Family("vit");
        var copy = Path.Combine(Directory.CreateDirectory(folder.File("elsewhere")).FullName, Path.GetFileName(checkpoint));
        File.Copy(checkpoint, copy);
        QuantizePipeline.Run(Job(model, checkpoint, "first"));
        QuantizePipeline.Run(Job(model, copy, "second"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder.File("first"), "evolq.safetensors")),
            File.ReadAllBytes(Path.Combine(folder.File("second"), "evolq.safetensors")));
    }

    [Fact]
    public void A_truncated_model_file_is_one_sentence_and_exit_2()
    {
        var (model, checkpoint) = Family("vit");
        QuantizePipeline.Run(Job(model, checkpoint, "job") with { ValidationData = null });
        var bytes = File.ReadAllBytes(Path.Combine(folder.File("job"), "evolq.safetensors"));
        var cut = folder.File("cut.safetensors");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);

        var sentence = Cli.Run("eval", "--quantized", cut, "--data", ValidationData, "--limit", "10").AssertUserError();
        Assert.StartsWith("cut.safetensors is truncated: tensor '", sentence, StringComparison.Ordinal);
    }

    private QuantizeJob Job(ModelInfo model, string checkpoint, string name) => new()
    {
        Model = model,
        CheckpointPath = checkpoint,
        CalibrationData = DataSpec.Parse("fashion-mnist:train"),
        Calibration = new CalibrationOptions { Size = 64, BatchSize = 32, Seed = 3 },
        ValidationData = DataSpec.Parse(ValidationData),
        ValidationLimit = ValidationLimit,
        Search = QuantizeJob.PaperSearch with { Passes = 1, Cycles = 1, PopulationSize = 4, TournamentSize = 2 },
        OutputDirectory = folder.File(name),
    };

    /// <summary>
    /// The family's model for Fashion-MNIST and a float checkpoint of it: the shipped trained demo ViT, and tiny LeViT
    /// and Swin shapes (not in the registry: the file describes them itself) with seeded default-initialised weights.
    /// </summary>
    private (ModelInfo Model, string Checkpoint) Family(string family)
    {
        switch (family)
        {
            case "vit":
                return (ModelRegistry.Get(DemoModel.Name), DemoModel.Checkpoint);
            case "levit":
            {
                var config = new LevitConfig([16, 24, 32], 8, [2, 3, 4], [1, 1, 1], imageSize: 128, numClasses: 10);
                var gray = new Preprocessing(128, 1.0, "bicubic", [0.286f, 0.286f, 0.286f], [0.353f, 0.353f, 0.353f]);
                var info = new ModelInfo("levit_micro_128", "levit", "test", gray, config.ParameterCount, config.SearchableBlockCount, 0, "test", config.Footprint,
                    q => new LevitModel(config, q));
                return (info, WriteCheckpoint("levit_micro_128.safetensors", () => new LevitModel(config, new QuantizationConfig(), LevitLayout.Checkpoint)));
            }
            case "swin":
            {
                var config = new SwinConfig(28, 2, 1, 16, [2, 2], [1, 2], 7, 4, 10);
                var gray = new Preprocessing(28, 1.0, "none", [0.286f], [0.353f]);
                var info = new ModelInfo("swin_micro_28", "swin", "test", gray, config.ParameterCount, config.BlockCount, 0, "test", config.Footprint,
                    q => new SwinTransformer(config, q));
                return (info, WriteCheckpoint("swin_micro_28.safetensors", () => Randomized(new SwinTransformer(config, new QuantizationConfig()))));
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(family));
        }
    }

    /// <summary>
    /// Weights on the scale of a trained small model, as the model tests draw them: with TorchSharp's default
    /// initialisation this Swin's first fitness was NaN when the test was written.
    /// </summary>
    private static SwinTransformer Randomized(SwinTransformer model)
    {
        var generator = new Generator(23);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var isNormWeight = name.EndsWith("norm.weight", StringComparison.Ordinal) || name.EndsWith("norm1.weight", StringComparison.Ordinal)
                || name.EndsWith("norm2.weight", StringComparison.Ordinal);
            RandomWeights.Draw(parameter, generator, std: 0.1, mean: isNormWeight ? 1 : null);
        }
        return model;
    }

    private string WriteCheckpoint(string name, Func<nn.Module> create)
    {
        var path = folder.File(name);
        random.manual_seed(17);
        using var model = create();
        var state = model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(model.named_buffers(recurse: true, include_nonpersistent: false).Select(b => (b.name, b.buffer)));
        SafeTensorsFile.Write(path, state);
        return path;
    }

    public void Dispose() => folder.Dispose();
}
