using EvolQ.Data;
using EvolQ.Engine.Benchmarks;
using EvolQ.Engine.Fitness;
using EvolQ.Quantization;
using EvolQ.Quantization.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Tests;

public sealed class FitnessEvaluatorTests
{
    [Fact]
    public void Cached_and_uncached_evaluations_give_the_same_bits()
    {
        using var job = TinyJob.Create(seed: 11);
        using var evaluator = new FitnessEvaluator(job.Model, job.Batches);
        foreach (var block in job.Model.SearchableBlocks)
        {
            var current = block.GetScales();
            float[][] candidates = [current, TinyJob.Perturbed(current, 1), TinyJob.Perturbed(current, 2, range: 1e-2)];

            var uncached = candidates.Select(c => evaluator.EvaluateBatches(block, c, [0, 1, 2])).ToArray();
            evaluator.BeginBlockVisit(block);
            // Interleaved and repeated, so a cache that a candidate could disturb would show.
            foreach (var c in new[] { 1, 0, 2, 1, 0 })
                AssertBits(uncached[c], evaluator.EvaluateBatches(block, candidates[c], [0, 1, 2]), $"{block.Name} candidate {c}");
            evaluator.EndBlockVisit();
            block.SetScales(current);
        }
        // The candidates differ, or the comparison above would prove little.
        var last = job.Model.SearchableBlocks[^1];
        Assert.NotEqual(evaluator.Evaluate(last, last.GetScales()), evaluator.Evaluate(last, TinyJob.Perturbed(last.GetScales(), 2, range: 1e-2)));
    }

    [Fact]
    public void Images_kept_as_packed_pixels_give_the_fitness_of_the_floats_they_came_from()
    {
        // Random 8-bit pixels through the demo model's normalisation, held packed as a job holds them.
        using var bench = BenchmarkModel.Create("vit_tiny_patch7_28", batches: 2, batchSize: 8, CPU, seed: 4);
        Assert.Equal(2, bench.Batches.PackedCount);
        var floats = Enumerable.Range(0, 2).Select(i => bench.Batches.Images(i, CPU)).ToArray();
        try
        {
            using var unpacked = ImageBatches.FromTensors(floats, CPU);
            Assert.Equal(0, unpacked.PackedCount);
            Assert.Equal(4 * bench.Batches.HeldBytes, unpacked.HeldBytes);
            bench.Calibrate();
            using var fromPixels = new FitnessEvaluator(bench.Model, bench.Batches);
            using var fromFloats = new FitnessEvaluator(bench.Model, unpacked);
            foreach (var block in new[] { bench.Model.SearchableBlocks[0], bench.Model.SearchableBlocks[^1] })
            {
                var scales = TinyJob.Perturbed(block.GetScales(), 7);
                AssertBits(fromFloats.EvaluateBatches(block, scales, [0, 1]), fromPixels.EvaluateBatches(block, scales, [0, 1]), $"{block.Name} uncached");
                fromPixels.BeginBlockVisit(block);
                fromFloats.BeginBlockVisit(block);
                AssertBits(fromFloats.EvaluateBatches(block, scales, [0, 1]), fromPixels.EvaluateBatches(block, scales, [0, 1]), $"{block.Name} cached");
                fromPixels.EndBlockVisit();
                fromFloats.EndBlockVisit();
            }
        }
        finally
        {
            foreach (var t in floats)
                t.Dispose();
        }
    }

    [Fact]
    public void Batches_evaluated_apart_combine_to_the_full_evaluation_bit_for_bit()
    {
        using var job = TinyJob.Create(seed: 12);
        using var evaluator = new FitnessEvaluator(job.Model, job.Batches);
        var block = job.Model.SearchableBlocks[1];
        var candidate = TinyJob.Perturbed(block.GetScales(), 3);
        foreach (var cached in new[] { false, true })
        {
            if (cached)
                evaluator.BeginBlockVisit(block);
            var full = evaluator.Evaluate(block, candidate);
            // As two devices would share the candidate: one takes batches 2 and 0, the other batch 1.
            var first = evaluator.EvaluateBatches(block, candidate, [2, 0]);
            var second = evaluator.EvaluateBatches(block, candidate, [1]);
            var combined = evaluator.Combine([first[1], second[0], first[0]]);
            Assert.Equal(BitConverter.DoubleToInt64Bits(full), BitConverter.DoubleToInt64Bits(combined));
            Assert.Equal((first[1] + second[0] + first[0]) / 3, full);
        }
        Assert.Throws<ArgumentException>(() => evaluator.Combine([1.0, 2.0]));
    }

    [Fact]
    public void The_teacher_runs_once_unquantized_with_integer_layernorm_and_stays_on_the_cpu()
    {
        using var job = TinyJob.Create(seed: 13);
        var model = new CountingModel(job.Model);
        using var evaluator = new FitnessEvaluator(model, job.Batches);
        Assert.Equal(job.Batches.Count, model.FloatForwards);
        Assert.Equal(job.Batches.Count, evaluator.TeacherBatchesForwarded);
        Assert.All(ModelQuantization.Layers(job.Model), l => Assert.True(l.Quantized));

        var block = job.Model.SearchableBlocks[2];
        for (var i = 0; i < 3; i++)
            evaluator.Evaluate(block, TinyJob.Perturbed(block.GetScales(), i));
        evaluator.BeginBlockVisit(block);
        for (var i = 0; i < 3; i++)
            evaluator.Evaluate(block, TinyJob.Perturbed(block.GetScales(), i));
        evaluator.EndBlockVisit();
        Assert.Equal(job.Batches.Count, model.FloatForwards);
        // 3 uncached evaluations of 3 batches, then one cache fill per batch for the visit.
        Assert.Equal(3 * 3 + 3, model.QuantizedForwards);
        Assert.Equal(6, evaluator.Evaluations);
        Assert.Equal(6 * 3, evaluator.BatchesEvaluated);
        Assert.Equal(6 * 3 * 16, evaluator.ImagesForwarded);

        // The teacher is the model with fake quantization off and LayerNorm still integer (semantics §2.3), not the float model.
        using var noGrad = no_grad();
        ModelQuantization.SetQuantized(job.Model, false);
        using var expected = job.Model.forward(job.Images[0]);
        ModelQuantization.SetLayerNormMode(job.Model, LayerNormMode.Float);
        using var floatModel = job.Model.forward(job.Images[0]);
        ModelQuantization.SetLayerNormMode(job.Model, LayerNormMode.Integer);
        ModelQuantization.SetQuantized(job.Model, true);
        var teacher = evaluator.TeacherOutputs(0);
        Assert.Equal(DeviceType.CPU, teacher.device_type);
        Assert.True(teacher.allclose(expected, 0, 0));
        Assert.False(teacher.allclose(floatModel, 0, 0));
    }

    [Fact]
    public void The_cache_is_dropped_when_anything_but_the_visited_block_changes()
    {
        using var job = TinyJob.Create(seed: 14);
        var model = new CountingModel(job.Model);
        using var evaluator = new FitnessEvaluator(model, job.Batches);
        var blocks = job.Model.SearchableBlocks;
        var visited = blocks[3];
        var candidate = TinyJob.Perturbed(visited.GetScales(), 5);

        evaluator.BeginBlockVisit(visited);
        evaluator.Evaluate(visited, candidate);
        var fills = model.QuantizedForwards;
        evaluator.Evaluate(visited, TinyJob.Perturbed(visited.GetScales(), 6));
        Assert.Equal(fills, model.QuantizedForwards);

        // An earlier block's scales change behind the evaluator's back: the stage input it cached is wrong now.
        blocks[0].SetScales(TinyJob.Perturbed(blocks[0].GetScales(), 7, range: 1e-2));
        var afterChange = evaluator.Evaluate(visited, candidate);
        Assert.Equal(fills + job.Batches.Count, model.QuantizedForwards);
        evaluator.EndBlockVisit();
        Assert.Equal(afterChange, evaluator.Evaluate(visited, candidate));

        // Only the visited block may be evaluated while its visit is in progress.
        evaluator.BeginBlockVisit(visited);
        Assert.Throws<InvalidOperationException>(() => evaluator.Evaluate(blocks[0], blocks[0].GetScales()));
    }

    [Fact]
    public void A_model_that_is_not_in_quantized_mode_is_refused()
    {
        using var job = TinyJob.Create(seed: 15, batchCount: 1, batchSize: 4);
        ModelQuantization.SetQuantized(job.Model, false);
        Assert.Throws<ArgumentException>(() => new FitnessEvaluator(job.Model, job.Batches));
        ModelQuantization.SetQuantized(job.Model, true);
        using var none = ImageBatches.FromTensors([], CPU);
        Assert.Throws<ArgumentException>(() => new FitnessEvaluator(job.Model, none));
    }

    [Theory]
    [InlineData(FitnessLoss.Mse)]
    [InlineData(FitnessLoss.Kl)]
    [InlineData(FitnessLoss.Cosine)]
    public void Every_loss_kind_scores_the_quantized_model_against_its_teacher(FitnessLoss loss)
    {
        using var job = TinyJob.Create(seed: 16, batchCount: 2, batchSize: 8);
        using var evaluator = new FitnessEvaluator(job.Model, job.Batches, loss);
        var block = job.Model.SearchableBlocks[0];
        var value = evaluator.Evaluate(block, block.GetScales());
        Assert.True(value > 0 && double.IsFinite(value));

        using var noGrad = no_grad();
        var expected = job.Images.Select((b, i) =>
        {
            using var outputs = job.Model.forward(b);
            return FitnessLosses.Compute(loss, outputs, evaluator.TeacherOutputs(i));
        }).Sum() / job.Batches.Count;
        Assert.Equal(expected, value);
    }

    private static void AssertBits(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(actual[i]),
                $"{what}, batch {i}: {expected[i]:R} uncached, {actual[i]:R} cached.");
    }
}
