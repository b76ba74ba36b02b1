using EvolQ.Data;
using EvolQ.Engine.Jobs;
using EvolQ.Models;

namespace EvolQ.Engine.Tests.Jobs;

/// <summary>Each registered model's evaluation transform, from its preprocessing.</summary>
public sealed class ModelTransformsTests
{
    [Fact]
    public void The_demo_model_transform_only_normalizes_at_28_pixels()
    {
        var transform = ModelTransforms.For(ModelRegistry.Get("vit_tiny_patch7_28"));
        Assert.Null(transform.ResizeSize);
        Assert.Equal(28, transform.CropSize);
        Assert.Equal(1, transform.Channels);
        var image = RawImage.FromBytes(1, 28, 28, Enumerable.Range(0, 784).Select(i => (byte)(i % 256)).ToArray());
        var values = transform.Apply(image);
        Assert.Equal((0 / 255f - 0.2860f) / 0.3530f, values[0]);
        Assert.Equal((200 / 255f - 0.2860f) / 0.3530f, values[200]);
    }

    [Fact]
    public void Imagenet_models_resize_bicubic_and_center_crop()
    {
        var transform = ModelTransforms.For(ModelRegistry.Get("deit_tiny"));
        Assert.Equal(256, transform.ResizeSize);
        Assert.Equal(224, transform.CropSize);
        Assert.Equal(Interpolation.Bicubic, transform.Interpolation);
    }
}
