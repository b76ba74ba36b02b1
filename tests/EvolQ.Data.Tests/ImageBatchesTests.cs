using EvolQ.TensorIO;
using static TorchSharp.torch;

namespace EvolQ.Data.Tests;

/// <summary>Batches kept for a job: packed as 8-bit pixels only where that gives back the loader's very floats.</summary>
public sealed class ImageBatchesTests
{
    private static readonly EvalTransform Small = new(36, 32, Interpolation.Bicubic, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    [Fact]
    public void Decoded_images_are_packed_to_a_quarter_and_unpack_to_the_loaders_bits()
    {
        var source = new ImageFolderSource(Fixtures.ImagesRoot);
        int[] order = [9, 0, 3, 7, 1, 8, 2];
        using var kept = ImageBatches.Load(source, Small, order, batchSize: 3, dropLast: true, CPU, threads: 2);
        Assert.Equal(2, kept.Count);
        Assert.Equal(2, kept.PackedCount);
        Assert.Equal(6, kept.ImageCount);
        // 6 images of 3 x 32 x 32 bytes, and 6 int64 labels.
        Assert.Equal((6 * 3 * 32 * 32) + (6 * 8), kept.HeldBytes);

        var b = 0;
        foreach (var batch in new BatchLoader(source, Small, order, batchSize: 3, dropLast: true, threads: 1))
        {
            using (batch)
            using (var images = kept.Images(b, CPU))
            using (var labels = kept.Labels(b))
            {
                Assert.Equal(batch.Images.shape, images.shape);
                AssertBits(batch.Images, images);
                Assert.Equal(batch.Labels.data<long>().ToArray(), labels.data<long>().ToArray());
            }

            b++;
        }

        Assert.Equal(2, b);
    }

    [Fact]
    public void Floats_that_no_pixel_makes_are_kept_as_given_and_handed_out_unchanged()
    {
        using var noise = randn([2, 3, 8, 8], generator: new TorchSharp.torch.Generator(3));
        using var kept = ImageBatches.FromTensors([noise], CPU, Small);
        Assert.Equal(0, kept.PackedCount);
        Assert.Equal(2 * 3 * 8 * 8 * 4, kept.HeldBytes);
        using var images = kept.Images(0, CPU);
        AssertBits(noise, images);

        // A single value off by one unit in the last place keeps the whole batch as floats.
        var source = new ImageFolderSource(Fixtures.ImagesRoot);
        using var batch = new BatchLoader(source, Small, [4, 5], batchSize: 2).Single();
        using var nudged = batch.Images.clone();
        var values = nudged.data<float>().ToArray();
        values[17] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(values[17]) + 1);
        using var changed = tensor(values, nudged.shape);
        using var both = ImageBatches.FromTensors([batch.Images, changed], CPU, Small);
        Assert.Equal(1, both.PackedCount);
        using var second = both.Images(1, CPU);
        AssertBits(changed, second);
    }

    [Fact]
    public void Arrays_of_floats_stay_floats_and_arrays_of_bytes_pack()
    {
        string Tensors(string name) => Path.Combine(Fixtures.DataRoot, "tensors", name);
        var transform = EvalTransform.NormalizeOnly([0.5f], [0.25f], channels: 1);
        var floats = new TensorFileSource(Tensors("f32_nhw.npy"), Tensors("i32_labels.npy"));
        using var fromFloats = ImageBatches.Load(floats, transform, Enumerable.Range(0, floats.Count).ToArray(), floats.Count, dropLast: false, CPU);
        Assert.Equal(0, fromFloats.PackedCount);

        var bytes = new TensorFileSource(Tensors("u8_nchw.npy"), Tensors("u8_labels.npy"), ["a", "b", "c"]);
        var rgb = EvalTransform.NormalizeOnly([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], channels: 3);
        var all = Enumerable.Range(0, bytes.Count).ToArray();
        using var fromBytes = ImageBatches.Load(bytes, rgb, all, bytes.Count, dropLast: false, CPU);
        Assert.Equal(1, fromBytes.PackedCount);
        using var batch = new BatchLoader(bytes, rgb, all, bytes.Count).Single();
        using var images = fromBytes.Images(0, CPU);
        AssertBits(batch.Images, images);
    }

    [Fact]
    public void Batches_out_of_range_and_missing_labels_are_refused()
    {
        using var noise = zeros([1, 3, 4, 4]);
        using var kept = ImageBatches.FromTensors([noise], CPU);
        Assert.Throws<ArgumentOutOfRangeException>(() => kept.Images(1, CPU));
        Assert.Throws<InvalidOperationException>(() => kept.Labels(0));
        using var flat = zeros([3, 4, 4]);
        Assert.Throws<ArgumentException>(() => ImageBatches.FromTensors([flat], CPU));
    }

    private static void AssertBits(Tensor expected, Tensor actual)
    {
        var e = expected.contiguous().data<float>().Select(BitConverter.SingleToInt32Bits).ToArray();
        var a = actual.contiguous().data<float>().Select(BitConverter.SingleToInt32Bits).ToArray();
        Assert.Equal(e, a);
    }
}
