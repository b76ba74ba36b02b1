using System.Diagnostics;
using EvolQ.Testing;
using SkiaSharp;
using Xunit.Abstractions;

namespace EvolQ.Data.Tests;

/// <summary>Images per second of the loader (EVOLQ_MEASURE=1 dotnet test --filter LoaderThroughput --logger "console;verbosity=detailed").</summary>
public sealed class LoaderThroughput(ITestOutputHelper output)
{
    private static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    [MeasurementFact]
    public void Jpeg_image_folder_at_224()
    {
        using var dir = new TempDirectory();
        WriteJpegs(dir, count: 200, width: 500, height: 375);
        var source = new ImageFolderSource(dir.Path);
        var transform = EvalTransform.FromCropPct(224, 0.875, ImageNetMean, ImageNetStd);
        var all = Enumerable.Range(0, source.Count).ToArray();

        // Where the time goes, on one thread.
        all.Take(20).Select(source.Read).ToArray();
        var sw = Stopwatch.StartNew();
        var decoded = all.Select(source.Read).ToArray();
        var decodeRate = all.Length / sw.Elapsed.TotalSeconds;
        sw.Restart();
        foreach (var image in decoded)
        {
            transform.Apply(image);
        }

        var transformRate = all.Length / sw.Elapsed.TotalSeconds;
        output.WriteLine($"one thread: decode {decodeRate:F0} img/s, resize+crop+normalize {transformRate:F0} img/s");
        output.WriteLine($"JPEG files: {Directory.EnumerateFiles(dir.Path, "*", SearchOption.AllDirectories).Average(f => new FileInfo(f).Length) / 1024:F0} KB on average; GC server={System.Runtime.GCSettings.IsServerGC}");

        foreach (var threads in new[] { 1, 2, 4 })
        {
            var gen2 = GC.CollectionCount(2);
            (var rate, var cpuMs) = Rate(source, transform, all, 50, threads);
            output.WriteLine(
                $"ImageFolder JPEG 500x375 -> 224, batch 50, {threads} threads: {rate:F0} img/s, {cpuMs:F2} CPU ms/img ({GC.CollectionCount(2) - gen2} gen2 GCs)");
        }
    }

    [MeasurementFact]
    public void Fashion_mnist()
    {
        var sw = Stopwatch.StartNew();
        var source = new FashionMnistSource("train");
        output.WriteLine($"Fashion-MNIST train loaded in {sw.Elapsed.TotalSeconds:F2} s");
        var transform = EvalTransform.NormalizeOnly([0.286f], [0.353f], channels: 1);
        var all = Enumerable.Range(0, 20_000).ToArray();
        foreach (var threads in new[] { 1, 2 })
        {
            (var rate, var cpuMs) = Rate(source, transform, all, 256, threads);
            output.WriteLine($"Fashion-MNIST 28x28, batch 256, {threads} threads: {rate:F0} img/s, {cpuMs * 1000:F1} CPU us/img");
        }
    }

    /// <summary>Wall-clock images/s, and process CPU time per image (which the machine's other load does not inflate).</summary>
    private static (double Rate, double CpuMs) Rate(ImageSource source, EvalTransform transform, int[] indices, int batchSize, int threads)
    {
        var loader = new BatchLoader(source, transform, indices, batchSize, threads: threads);
        Drain(loader); // warm-up: JIT and page cache
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var images = Drain(loader);
        var wall = sw.Elapsed.TotalSeconds;
        return (images / wall, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / images);
    }

    private static int Drain(BatchLoader loader)
    {
        var images = 0;
        foreach (var batch in loader)
        {
            using (batch)
            {
                images += (int)batch.Images.shape[0];
            }
        }

        return images;
    }

    private static void WriteJpegs(TempDirectory dir, int count, int width, int height)
    {
        // Photo-like entropy: smooth gradients, shapes and noise, so the JPEG sizes (about 40-80 KB) resemble ImageNet's.
        var random = new Random(1);
        for (var n = 0; n < count; n++)
        {
            using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
            var pixels = new byte[width * height * 4];
            var fx = random.NextDouble() * 0.05;
            var fy = random.NextDouble() * 0.05;
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++)
                {
                    var p = ((y * width) + x) * 4;
                    pixels[p] = (byte)Math.Clamp(128 + (100 * Math.Sin(x * fx)) + random.Next(-20, 20), 0, 255);
                    pixels[p + 1] = (byte)Math.Clamp((255.0 * y / height) + random.Next(-20, 20), 0, 255);
                    pixels[p + 2] = (byte)Math.Clamp(128 + (100 * Math.Cos((x + y) * fy)) + random.Next(-20, 20), 0, 255);
                    pixels[p + 3] = 255;
                }
            }

            System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
            using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
            dir.File($"class{n % 4}/img{n:D4}.JPEG", data.ToArray());
        }
    }
}
