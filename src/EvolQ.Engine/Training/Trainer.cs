using System.Diagnostics;
using EvolQ.Data;
using EvolQ.Engine.Evaluation;
using EvolQ.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Engine.Training;

/// <summary>
/// Trains a model in float mode from scratch: timm-like initialisation, AdamW with linear warm-up and cosine decay,
/// label-smoothed cross-entropy, optional random-crop/flip augmentation, all drawn from streams of one seed.
/// </summary>
/// <remarks>
/// The training images are preprocessed once and kept in memory, which suits small data sets such as Fashion-MNIST
/// (60,000 images of 28x28 are 188 MB); larger sources are refused. On the CPU a seed gives the same weights on every
/// run with the same number of threads.
/// </remarks>
public static class Trainer
{
    /// <summary>The most memory the preprocessed training images may take.</summary>
    public const long MaxInMemoryBytes = 4L << 30;

    // Keys mixed into the seed so that shuffling and augmentation do not reuse the initialisation stream.
    private const ulong ShuffleKey = 0x53485546464C4531UL; // "SHUFFLE1"
    private const long AugmentKey = 0x4155474D;            // "AUGM"

    public static TrainingResult Train(
        nn.Module<Tensor, Tensor> model,
        ImageSource train,
        ImageSource? validation,
        EvalTransform transform,
        TrainingOptions options,
        IProgress<TrainingProgress>? progress = null,
        IProgress<StageProgress>? loading = null,
        Action<TrainingEpoch>? epochDone = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(transform);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Epochs < 1 || options.BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options), "Training needs at least one epoch and a positive batch size.");

        var clock = Stopwatch.StartNew();
        var (images, labels) = LoadAll(train, transform, options.LoaderThreads, loading);
        using var imagesOwner = images;
        using var labelsOwner = labels;
        using var fill = PaddingFill(transform);

        WeightInit.Apply(model, options.Seed);
        model.to(options.Device);
        var parameters = model.named_parameters().ToList();
        foreach (var (_, parameter) in parameters)
            parameter.requires_grad = true;

        var groups = new[]
        {
            new AdamW.ParamGroup(parameters.Where(p => WeightInit.Decays(p.name, p.parameter)).Select(p => p.parameter),
                options.LearningRate, 0.9, 0.999, 1e-8, options.WeightDecay, false, false),
            new AdamW.ParamGroup(parameters.Where(p => !WeightInit.Decays(p.name, p.parameter)).Select(p => p.parameter),
                options.LearningRate, 0.9, 0.999, 1e-8, 0.0, false, false),
        };
        using var optimizer = optim.AdamW(groups, options.LearningRate);

        var count = (int)images.shape[0];
        var steps = (count + options.BatchSize - 1) / options.BatchSize;
        var schedule = new LearningRateSchedule(options, steps);
        var shuffle = new SplitMix64(unchecked((ulong)options.Seed) ^ ShuffleKey);
        var augmentation = new Generator(unchecked((ulong)(options.Seed ^ AugmentKey)));
        var epochs = new List<TrainingEpoch>();
        EvaluationResult? lastValidation = null;
        var trainingTime = TimeSpan.Zero;
        try
        {
            for (var epoch = 1; epoch <= options.Epochs; epoch++)
            {
                var epochClock = Stopwatch.StartNew();
                model.train();
                using var order = tensor(Permutation(count, shuffle));
                double lossSum = 0;
                long correct = 0, seen = 0;
                for (var step = 0; step < steps; step++)
                {
                    using var scope = NewDisposeScope();
                    var globalStep = (epoch - 1) * steps + step;
                    var learningRate = schedule.At(globalStep);
                    foreach (var group in optimizer.ParamGroups)
                        group.LearningRate = learningRate;

                    var length = Math.Min(options.BatchSize, count - step * options.BatchSize);
                    var index = order.narrow(0, step * options.BatchSize, length);
                    var x = images.index_select(0, index);
                    if (options.Augment)
                        x = Augment(x, fill, augmentation);
                    x = x.to(options.Device);
                    var y = labels.index_select(0, index).to(options.Device);

                    optimizer.zero_grad();
                    var logits = model.forward(x);
                    var loss = nn.functional.cross_entropy(logits, y, label_smoothing: options.LabelSmoothing);
                    loss.backward();
                    optimizer.step();

                    lossSum += loss.item<float>() * length;
                    correct += logits.argmax(1).eq(y).sum().item<long>();
                    seen += length;
                    progress?.Report(new TrainingProgress(epoch, options.Epochs, step + 1, steps, lossSum / seen, 100.0 * correct / seen, learningRate));
                }

                trainingTime += epochClock.Elapsed;
                model.eval();
                if (validation is not null)
                {
                    lastValidation = Evaluator.Run(model, validation, transform, new EvaluationOptions
                    {
                        BatchSize = options.EvalBatchSize,
                        Device = options.Device,
                        LoaderThreads = options.LoaderThreads,
                        Stage = "validating",
                    }, loading);
                }

                var summary = new TrainingEpoch(epoch, lossSum / seen, 100.0 * correct / seen, lastValidation?.Top1, epochClock.Elapsed);
                epochs.Add(summary);
                epochDone?.Invoke(summary);
            }
        }
        finally
        {
            // The quantization code expects frozen weights; gradients are only wanted here.
            foreach (var (_, parameter) in parameters)
            {
                parameter.grad?.Dispose();
                parameter.requires_grad = false;
            }
        }

        var rate = (double)count * options.Epochs / Math.Max(trainingTime.TotalSeconds, 1e-9);
        return new TrainingResult(epochs, lastValidation, clock.Elapsed, rate);
    }

    /// <summary>A uniform random permutation of 0..n-1 (Fisher–Yates on the seeded stream).</summary>
    private static long[] Permutation(int n, SplitMix64 stream)
    {
        var order = new long[n];
        for (var i = 0; i < n; i++)
            order[i] = i;
        for (var i = n - 1; i > 0; i--)
        {
            var j = (int)stream.NextBelow((ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }

        return order;
    }

    /// <summary>Random crop of the image padded by 2 pixels (of black), then a horizontal flip with probability 1/2.</summary>
    private static Tensor Augment(Tensor x, Tensor fill, Generator generator)
    {
        const int pad = 2;
        var (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        // Padding in normalised space must be black, which is -mean/std per channel, not 0.
        var padded = nn.functional.pad(x - fill, [pad, pad, pad, pad]).add_(fill, Scalars.One);
        var dy = randint(0, 2 * pad + 1, [b], dtype: ScalarType.Int64, generator: generator);
        var dx = randint(0, 2 * pad + 1, [b], dtype: ScalarType.Int64, generator: generator);
        using var height = h.ToScalar();
        using var width = w.ToScalar();
        using var flipProbability = 0.5.ToScalar();
        var rows = dy.unsqueeze(1).add(arange(Scalars.Zero, height, Scalars.One, dtype: ScalarType.Int64), Scalars.One)
            .view(b, 1, h, 1).expand(b, c, h, w + 2 * pad);
        var cropped = padded.gather(2, rows);
        var columns = dx.unsqueeze(1).add(arange(Scalars.Zero, width, Scalars.One, dtype: ScalarType.Int64), Scalars.One)
            .view(b, 1, 1, w).expand(b, c, h, w);
        cropped = cropped.gather(3, columns);
        var flip = rand([b], generator: generator).lt(flipProbability).view(b, 1, 1, 1);
        return where(flip, cropped.flip(3), cropped);
    }

    private static Tensor PaddingFill(EvalTransform transform)
    {
        var values = transform.Mean.Zip(transform.Std, (m, s) => -m / s).ToArray();
        // Shaped as it is made: a view of a flat tensor would leave the flat one's handle to the finalizer.
        return tensor(values, [1, values.Length, 1, 1]);
    }

    private static (Tensor Images, Tensor Labels) LoadAll(ImageSource source, EvalTransform transform, int threads, IProgress<StageProgress>? progress)
    {
        if (transform.CropSize is not int crop)
            throw new ArgumentException("Training needs a transform with a fixed output size (a crop).", nameof(transform));
        var bytes = (long)source.Count * transform.Channels * crop * crop * sizeof(float);
        if (bytes > MaxInMemoryBytes)
            throw new DataSourceException(
                $"Training keeps its images in memory, and {source.Count} images of {transform.Channels}x{crop}x{crop} need {bytes / (1 << 20)} MB, more than {MaxInMemoryBytes >> 20} MB.");
        if (source.Count == 0)
            throw new DataSourceException($"{source.Description} holds no images to train on.");

        var loader = new BatchLoader(source, transform, Enumerable.Range(0, source.Count).ToArray(), 1000, threads: threads);
        var images = new List<Tensor>();
        var labels = new List<Tensor>();
        try
        {
            foreach (var batch in loader)
            {
                images.Add(batch.Images);
                labels.Add(batch.Labels);
                progress?.Report(new StageProgress("loading", images.Sum(t => (int)t.shape[0]), source.Count));
            }

            return (cat(images, 0), cat(labels, 0));
        }
        finally
        {
            images.ForEach(t => t.Dispose());
            labels.ForEach(t => t.Dispose());
        }
    }
}
