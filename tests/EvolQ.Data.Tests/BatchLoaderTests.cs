using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Data.Tests;

/// <summary>Batch order, contents and errors of the multi-threaded loader.</summary>
public sealed class BatchLoaderTests
{
    private static readonly EvalTransform Small = new(36, 32, Interpolation.Bicubic, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    [Fact]
    public void Batches_do_not_depend_on_thread_count_or_prefetch()
    {
        var source = new ImageFolderSource(Fixtures.ImagesRoot);
        int[] order = [9, 0, 3, 3, 7, 1, 8, 2, 6, 5, 4];
        List<(float[] Images, long[] Labels, int[] Indices)> Run(int threads, int prefetch)
        {
            var result = new List<(float[], long[], int[])>();
            foreach (var batch in new BatchLoader(source, Small, order, batchSize: 4, threads: threads, prefetch: prefetch))
            {
                using (batch)
                {
                    result.Add((batch.Images.data<float>().ToArray(), batch.Labels.data<long>().ToArray(), batch.Indices.ToArray()));
                }
            }

            return result;
        }

        var one = Run(1, 1);
        Assert.Equal(3, one.Count);
        Assert.Equal([4, 4, 3], one.Select(b => b.Labels.Length));
        Assert.Equal(order, one.SelectMany(b => b.Indices));
        Assert.Equal(order.Select(i => source.LabelOf(i)), one.SelectMany(b => b.Labels));
        foreach ((var threads, var prefetch) in new[] { (2, 1), (4, 3), (8, 1) })
        {
            var other = Run(threads, prefetch);
            Assert.Equal(one.Count, other.Count);
            for (var b = 0; b < one.Count; b++)
            {
                Assert.Equal(one[b].Images, other[b].Images);
                Assert.Equal(one[b].Labels, other[b].Labels);
            }
        }
    }

    [Fact]
    public void Batch_images_equal_the_single_image_transform()
    {
        var source = new ImageFolderSource(Fixtures.ImagesRoot);
        var loader = new BatchLoader(source, Small, [2, 5, 8], batchSize: 3, threads: 2);
        using var batch = loader.Single();
        Assert.Equal(new long[] { 3, 3, 32, 32 }, batch.Images.shape);
        Assert.Equal(ScalarType.Int64, batch.Labels.dtype);
        for (var i = 0; i < 3; i++)
        {
            (var single, var label) = source.Load(batch.Indices[i], Small);
            using (single)
            {
                Assert.True(single.eq(batch.Images[i]).all().item<bool>());
                Assert.Equal(label, batch.Labels[i].item<long>());
            }
        }
    }

    [Fact]
    public void Drop_last_drops_the_incomplete_batch()
    {
        var source = new ImageFolderSource(Fixtures.ImagesRoot);
        var loader = new BatchLoader(source, Small, Enumerable.Range(0, 10).ToArray(), batchSize: 4, dropLast: true);
        Assert.Equal(2, loader.BatchCount);
        var count = 0;
        foreach (var batch in loader)
        {
            using (batch)
            {
                Assert.Equal(count, batch.Number);
                Assert.Equal(4, batch.Images.shape[0]);
                count++;
            }
        }

        Assert.Equal(2, count);
    }

    [Fact]
    public void Leaving_early_stops_the_workers_and_the_loader_can_run_again()
    {
        var source = new FashionMnistSourceHolder().Source;
        var transform = EvalTransform.NormalizeOnly([0.286f], [0.353f], channels: 1);
        var loader = new BatchLoader(source, transform, Enumerable.Range(0, 2000).ToArray(), batchSize: 100, threads: 2);
        foreach (var batch in loader)
        {
            using (batch)
            {
                Assert.Equal(new long[] { 100, 1, 28, 28 }, batch.Images.shape);
                break;
            }
        }

        Assert.Equal(20, loader.Count(b =>
        {
            b.Dispose();
            return true;
        }));
    }

    [Fact]
    public void An_unreadable_image_fails_its_batch_with_the_file_name()
    {
        using var dir = new TempDirectory();
        var png = File.ReadAllBytes(Path.Combine(Fixtures.ImagesRoot, "Zeta/square_64x64.png"));
        for (var i = 0; i < 6; i++)
        {
            dir.File($"c/{i}.png", png);
        }

        var bad = dir.File("c/6.png", png[..100]);
        dir.File("c/7.png", png);
        var source = new ImageFolderSource(dir.Path);
        using var enumerator = new BatchLoader(source, Small, Enumerable.Range(0, 8).ToArray(), batchSize: 4, threads: 3).GetEnumerator();
        Assert.True(enumerator.MoveNext());
        enumerator.Current.Dispose();
        var e = Assert.Throws<DataSourceException>(() => enumerator.MoveNext());
        Assert.Contains(bad, e.Message);
    }

    [Fact]
    public void Images_of_different_sizes_without_a_crop_are_reported()
    {
        var source = new ImageFolderSource(Fixtures.ImagesRoot);
        var noCrop = new EvalTransform(36, null, Interpolation.Bicubic, [0f, 0f, 0f], [1f, 1f, 1f]);
        using var enumerator = new BatchLoader(source, noCrop, [0, 1], batchSize: 2).GetEnumerator();
        var e = Assert.Throws<DataSourceException>(() => enumerator.MoveNext());
        Assert.Contains("give the transform a crop size", e.Message);

        // Same-size images need no crop.
        using var ok = new BatchLoader(source, noCrop, [3, 3], batchSize: 2).GetEnumerator();
        Assert.True(ok.MoveNext());
        Assert.Equal(new long[] { 2, 3, 36, 36 }, ok.Current.Images.shape);
        ok.Current.Dispose();
    }

    [Fact]
    public void Out_of_range_indices_are_reported()
    {
        var source = new ImageFolderSource(Fixtures.ImagesRoot);
        var e = Assert.Throws<DataSourceException>(() => new BatchLoader(source, Small, [0, 10], batchSize: 2));
        Assert.StartsWith("Index 10 is out of range for image folder", e.Message);
    }

    /// <summary>Shares one test-split source across this class's tests.</summary>
    private sealed class FashionMnistSourceHolder
    {
        private static readonly Lazy<FashionMnistSource> Shared = new(() => new FashionMnistSource("test"));

        public FashionMnistSource Source => Shared.Value;
    }
}
