using System.Globalization;
using System.Text.Json;
using EvolQ.Engine.Fitness;
using EvolQ.Testing;

namespace EvolQ.Engine.Tests;

/// <summary>The fitness losses against PyTorch's values (tests/reference/make_loss_fixtures.py).</summary>
public sealed class LossGoldenTests
{
    public static TheoryData<string> Cases()
    {
        using var fixture = Fixtures.Read("losses", "losses.safetensors");
        var data = new TheoryData<string>();
        foreach (var name in JsonSerializer.Deserialize<string[]>(fixture.Metadata["cases"])!)
            data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_loss_matches_pytorch(string name)
    {
        using var fixture = Fixtures.Read("losses", "losses.safetensors");
        var student = fixture[$"{name}/student"];
        var teacher = fixture[$"{name}/teacher"];
        AssertClose(Expected(fixture, name, "infonce_t3"), FitnessLosses.InfoNce(student, teacher, 3.0), $"{name} infoNCE T=3");
        AssertClose(Expected(fixture, name, "infonce_t1"), FitnessLosses.InfoNce(student, teacher, 1.0), $"{name} infoNCE T=1");
        AssertClose(Expected(fixture, name, "mse"), FitnessLosses.Mse(student, teacher), $"{name} MSE");
        AssertClose(Expected(fixture, name, "kl"), FitnessLosses.Kl(student, teacher), $"{name} KL");
        AssertClose(Expected(fixture, name, "cosine"), FitnessLosses.Cosine(student, teacher), $"{name} cosine");
    }

    [Fact]
    public void Compute_dispatches_by_kind_with_infonce_at_the_default_temperature()
    {
        using var fixture = Fixtures.Read("losses", "losses.safetensors");
        var student = fixture["stepped_100x1000/student"];
        var teacher = fixture["stepped_100x1000/teacher"];
        Assert.Equal(FitnessLosses.InfoNce(student, teacher, 3.0), FitnessLosses.Compute(FitnessLoss.InfoNce, student, teacher));
        Assert.Equal(FitnessLosses.Mse(student, teacher), FitnessLosses.Compute(FitnessLoss.Mse, student, teacher));
        Assert.Equal(FitnessLosses.Kl(student, teacher), FitnessLosses.Compute(FitnessLoss.Kl, student, teacher));
        Assert.Equal(FitnessLosses.Cosine(student, teacher), FitnessLosses.Compute(FitnessLoss.Cosine, student, teacher));
    }

    [Theory]
    [InlineData("identical_100x1000")]
    [InlineData("identical_8x10")]
    public void Infonce_of_a_student_equal_to_its_teacher_is_the_pytorch_value(string name)
    {
        using var fixture = Fixtures.Read("losses", "losses.safetensors");
        var teacher = fixture[$"{name}/teacher"];
        // infoNCE is not zero at a perfect student: the other samples still take probability from the diagonal.
        var expected = Expected(fixture, name, "infonce_t3");
        Assert.True(expected > 1);
        AssertClose(expected, FitnessLosses.InfoNce(teacher, teacher), $"{name} infoNCE of the teacher against itself");
        Assert.Equal(0.0, FitnessLosses.Mse(teacher, teacher));
        Assert.InRange(FitnessLosses.Kl(teacher, teacher), -1e-12, 1e-12);
        Assert.InRange(FitnessLosses.Cosine(teacher, teacher), -1e-12, 1e-12);
    }

    [Fact]
    public void Mismatched_shapes_are_refused()
    {
        using var a = TorchSharp.torch.zeros(4, 10);
        using var b = TorchSharp.torch.zeros(4, 11);
        Assert.Throws<ArgumentException>(() => FitnessLosses.InfoNce(a, b));
        Assert.Throws<ArgumentOutOfRangeException>(() => FitnessLosses.InfoNce(a, a, 0));
    }

    private static double Expected(EvolQ.TensorIO.SafeTensorsContent fixture, string name, string loss) =>
        fixture[$"{name}/{loss}"].item<double>();

    private static void AssertClose(double expected, double actual, string what)
    {
        // 1e-6 relative, and an absolute floor for the exact zeros of identical inputs.
        var tolerance = 1e-6 * Math.Abs(expected) + 1e-12;
        Assert.True(Math.Abs(actual - expected) <= tolerance, string.Create(CultureInfo.InvariantCulture,
            $"{what}: expected {expected:R}, got {actual:R} (relative difference {Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-300):G3})."));
    }
}
