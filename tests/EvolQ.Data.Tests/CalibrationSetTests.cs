namespace EvolQ.Data.Tests;

/// <summary>The seeded calibration draw and its generator.</summary>
public sealed class CalibrationSetTests
{
    [Fact]
    public void SplitMix64_matches_the_reference_outputs()
    {
        // The first outputs of Vigna's splitmix64.c seeded with 1234567.
        var rng = new SplitMix64(1234567);
        ulong[] expected = [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821];
        Assert.Equal(expected, Enumerable.Range(0, 5).Select(_ => rng.Next()));
    }

    [Fact]
    public void Draws_are_pinned_to_the_documented_algorithm()
    {
        // Computed by an independent Python implementation of the algorithm in CalibrationSet's documentation.
        var a = CalibrationSet.Draw(1000, seed: 0, count: 10, batchSize: 5, holdout: 3);
        Assert.Equal([358, 882, 592, 16, 77, 236, 51, 348, 465, 293], a.Indices);
        Assert.Equal([756, 408, 15], a.Holdout);
        var b = CalibrationSet.Draw(60000, seed: 42, count: 7, batchSize: 3, holdout: 2);
        Assert.Equal([21019, 958, 50962, 56459, 30492, 8299], b.Indices);
        Assert.Equal([8488, 26139], b.Holdout);
        var c = CalibrationSet.Draw(50, seed: -1, count: 4, batchSize: 2, holdout: 4);
        Assert.Equal([43, 38, 12, 42], c.Indices);
        Assert.Equal([18, 17, 4, 29], c.Holdout);
    }

    [Fact]
    public void Same_seed_same_images_different_seed_different_images()
    {
        var a = CalibrationSet.Draw(1_281_167, seed: 7);
        var b = CalibrationSet.Draw(1_281_167, seed: 7);
        var c = CalibrationSet.Draw(1_281_167, seed: 8);
        Assert.Equal(a.Indices, b.Indices);
        Assert.NotEqual(a.Indices, c.Indices);
        Assert.True(a.Indices.Intersect(c.Indices).Count() < 10);
    }

    [Fact]
    public void The_original_shape_is_ten_batches_of_one_hundred_distinct_images()
    {
        var set = CalibrationSet.Draw(50_000, seed: 0);
        Assert.Equal(10, set.Batches.Count);
        Assert.All(set.Batches, batch => Assert.Equal(100, batch.Count));
        Assert.Equal(1000, set.Indices.Distinct().Count());
        Assert.All(set.Indices, i => Assert.InRange(i, 0, 49_999));
        Assert.Equal(set.Indices, set.Batches.SelectMany(b => b));
    }

    [Fact]
    public void Incomplete_last_batch_is_dropped()
    {
        var set = CalibrationSet.Draw(1000, seed: 3, count: 250, batchSize: 100, holdout: 20);
        Assert.Equal(2, set.Batches.Count);
        Assert.Equal(200, set.Indices.Count);

        // The dropped images were drawn, so they are not held out either.
        var more = CalibrationSet.Draw(1000, seed: 3, count: 250, batchSize: 50, holdout: 20);
        Assert.Equal(250, more.Indices.Count);
        Assert.Empty(set.Holdout.Intersect(more.Indices));
        Assert.Equal(set.Holdout, more.Holdout);
    }

    [Fact]
    public void File_order_takes_the_first_images_whatever_the_seed_and_holds_out_the_next()
    {
        var first = CalibrationSet.Draw(1000, seed: 3, count: 250, batchSize: 100, holdout: 20, order: CalibrationOrder.File);
        var other = CalibrationSet.Draw(1000, seed: 4, count: 250, batchSize: 100, holdout: 20, order: CalibrationOrder.File);
        Assert.Equal(Enumerable.Range(0, 200), first.Indices);
        Assert.Equal(Enumerable.Range(250, 20), first.Holdout);
        Assert.Equal(first.Indices, other.Indices);
        Assert.Equal(first.Indices, first.Batches.SelectMany(b => b));
        Assert.NotEqual(first.Indices, CalibrationSet.Draw(1000, seed: 3, count: 250, batchSize: 100, holdout: 20).Indices);
        Assert.True(CalibrationOrderNames.TryParse("file", out var file) && file == CalibrationOrder.File);
        Assert.False(CalibrationOrderNames.TryParse("File", out _));
        Assert.Equal(["seeded", "file"], CalibrationOrderNames.All.Select(n => CalibrationOrderNames.TryParse(n, out var o) ? CalibrationOrderNames.Name(o) : "?"));
    }

    [Fact]
    public void Holdout_is_disjoint_and_does_not_change_the_calibration_images()
    {
        var plain = CalibrationSet.Draw(5000, seed: 11, count: 1000, batchSize: 100);
        var withHoldout = CalibrationSet.Draw(5000, seed: 11, count: 1000, batchSize: 100, holdout: 500);
        Assert.Empty(plain.Holdout);
        Assert.Equal(plain.Indices, withHoldout.Indices);
        Assert.Equal(500, withHoldout.Holdout.Distinct().Count());
        Assert.Empty(withHoldout.Holdout.Intersect(withHoldout.Indices));
    }

    [Fact]
    public void A_smaller_count_is_a_prefix_of_a_larger_one()
    {
        var small = CalibrationSet.Draw(5000, seed: 5, count: 200, batchSize: 100);
        var large = CalibrationSet.Draw(5000, seed: 5, count: 1000, batchSize: 100);
        Assert.Equal(small.Indices, large.Indices.Take(200));
        Assert.Equal(small.Batches[1], large.Batches[1]);
    }

    [Fact]
    public void Drawing_everything_gives_a_permutation()
    {
        var set = CalibrationSet.Draw(300, seed: 9, count: 200, batchSize: 10, holdout: 100);
        Assert.Equal(Enumerable.Range(0, 300), set.Indices.Concat(set.Holdout).Order());
    }

    [Fact]
    public void Impossible_draws_are_reported()
    {
        var e = Assert.Throws<DataSourceException>(() => CalibrationSet.Draw(1000, seed: 0, count: 900, holdout: 200));
        Assert.Equal("Cannot draw 900 calibration and 200 held-out images from a source of 1000.", e.Message);
        Assert.Throws<DataSourceException>(() => CalibrationSet.Draw(1000, seed: 0, count: 50, batchSize: 100));
    }
}
