namespace EvolQ.Data.Tests;

/// <summary>The data-spec forms every command accepts, and one sentence for each malformed spec.</summary>
public sealed class DataSpecTests
{
    [Theory]
    [InlineData("fashion-mnist:train", DataSpecKind.FashionMnist, FashionMnistSource.DefaultDirectory, "train", null)]
    [InlineData("fashion-mnist:test:/data/fm", DataSpecKind.FashionMnist, "/data/fm", "test", null)]
    [InlineData("imagefolder:/data/imagenet/val", DataSpecKind.ImageFolder, "/data/imagenet/val", null, null)]
    [InlineData("npy:x.npy,y.npy", DataSpecKind.Npy, "x.npy", null, "y.npy")]
    [InlineData("preprocessed:x.npy,y.npy", DataSpecKind.Preprocessed, "x.npy", null, "y.npy")]
    public void Parses_each_form(string text, DataSpecKind kind, string location, string? split, string? labels)
    {
        var spec = DataSpec.Parse(text);
        Assert.Equal(kind, spec.Kind);
        Assert.Equal(location, spec.Location);
        Assert.Equal(split, spec.Split);
        Assert.Equal(labels, spec.LabelsPath);
        Assert.Equal(text, spec.Text);
    }

    [Theory]
    [InlineData("fashion-mnist")]
    [InlineData("mnist:train")]
    [InlineData("fashion-mnist:valid")]
    [InlineData("fashion-mnist:train:")]
    [InlineData("imagefolder:")]
    [InlineData("npy:images.npy")]
    [InlineData("npy:images.npy,")]
    [InlineData("preprocessed:inputs.npy")]
    public void Malformed_specs_are_one_sentence(string text)
    {
        var error = Assert.Throws<DataSourceException>(() => DataSpec.Parse(text));
        Assert.Contains(text, error.Message, StringComparison.Ordinal);
        Assert.EndsWith(".", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }
}
