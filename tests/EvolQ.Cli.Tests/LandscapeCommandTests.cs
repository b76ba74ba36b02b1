using EvolQ.Data;
using EvolQ.Engine.Calibration;
using EvolQ.Models;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests;

/// <summary>`evolq landscape` prepares its calibration images on the job road: the draw follows --calib-order.</summary>
[Trait("Category", "Slow")]
public sealed class LandscapeCommandTests : IDisposable
{
    private readonly TempDirectory folder = new("evolq-landscape-cli");

    public void Dispose() => folder.Dispose();

    [Fact]
    public void The_calibration_order_chooses_the_images_the_fitness_is_measured_on()
    {
        var data = SmallData.Write(folder, 300);
        var quantized = folder.File("fqvit.safetensors");
        CalibrationPipeline.Run(new CalibrationJob
        {
            Model = ModelRegistry.Get(DemoModel.Name),
            CheckpointPath = DemoModel.Checkpoint,
            CalibrationData = DataSpec.Parse(data),
            Calibration = new CalibrationOptions { Size = 100, BatchSize = 50, LoaderThreads = 1 },
            OutputPath = quantized,
        });

        string Line(string order, string name)
        {
            var output = folder.File(name);
            Cli.Run("landscape", "--quantized", quantized, "--calib-data", data, "--calib-size", "100", "--calib-batch", "50",
                "--calib-order", order, "--steps", "3", "--grid", "2", "--threads", "1", "--out", output).AssertSuccess();
            return File.ReadAllText(Path.Combine(output, "landscape-1d.csv"));
        }

        var seeded = Line("seeded", "seeded");
        Assert.Equal(seeded, Line("seeded", "seeded-again"));
        Assert.NotEqual(seeded, Line("file", "file"));
    }
}
