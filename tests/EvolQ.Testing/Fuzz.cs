using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using CsCheck;

namespace EvolQ.Testing;

/// <summary>
/// Runs a parser over generated inputs with a fixed seed and budget: every input must end in success or in the
/// parser's own exception type, within a bound on managed allocation per input and on the process's memory overall,
/// and the whole run within a time limit (a hang fails the test instead of stalling CI).
/// </summary>
public static class Fuzz
{
    private static object? LastInput
    {
        get => Volatile.Read(ref lastInputShared);
        set => Volatile.Write(ref lastInputShared, value);
    }

    private static object? lastInputShared;

    /// <summary>What one run saw: how many inputs parsed, how many ended in the parser's own error.</summary>
    public sealed record Outcome(int Parsed, int Refused);

    /// <param name="parse">Parses one input and disposes whatever it returns.</param>
    /// <param name="isOwnError">Whether an exception is the parser's own type.</param>
    /// <param name="maxAllocatedBytes">The most managed bytes one input may allocate.</param>
    /// <param name="maxGrowthBytes">The most the process's resident memory may grow over the run (native tensors included).</param>
    public static Outcome Run<T>(
        Gen<T> gen,
        Action<T> parse,
        Func<Exception, bool> isOwnError,
        ulong seed,
        int iterations = 300,
        long maxAllocatedBytes = 64L << 20,
        long maxGrowthBytes = 512L << 20,
        Func<T, string>? describe = null,
        TimeSpan? timeLimit = null)
    {
        ArgumentNullException.ThrowIfNull(gen);
        // CI runs the fixed budget; EVOLQ_FUZZ_ITERATIONS runs a longer local campaign with the same seeds.
        if (int.TryParse(Environment.GetEnvironmentVariable("EVOLQ_FUZZ_ITERATIONS"), out var campaign) && campaign > 0)
        {
            iterations = campaign;
        }

        Outcome? outcome = null;
        Exception? failure = null;
        var current = new StrongBox<string>("none yet");
        var thread = new Thread(() =>
        {
            try
            {
                outcome = Loop(gen, parse, isOwnError, seed, iterations, maxAllocatedBytes, maxGrowthBytes, describe, current);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        var limit = timeLimit ?? TimeSpan.FromSeconds(90);
        if (!thread.Join(limit))
        {
            var saved = Path.Combine(Path.GetTempPath(), $"evolq-fuzz-hang-{seed}");
            File.WriteAllBytes(saved, LastInput switch { byte[] b => b, string t => System.Text.Encoding.UTF8.GetBytes(t), var other => System.Text.Encoding.UTF8.GetBytes(other?.ToString() ?? "") });
            throw new TimeoutException($"The fuzz run (input saved in {saved}) (seed {seed}) did not finish within {limit.TotalSeconds} s: an input hangs the parser. {Volatile.Read(ref current.Value!)}");
        }

        if (failure is not null)
        {
            throw new FuzzFailure(failure.Message, failure);
        }

        return outcome!;
    }

    private static Outcome Loop<T>(Gen<T> gen, Action<T> parse, Func<Exception, bool> isOwnError, ulong seed, int iterations, long maxAllocatedBytes, long maxGrowthBytes, Func<T, string>? describe, StrongBox<string> current)
    {
        var pcg = new PCG(7, seed);
        using var process = Process.GetCurrentProcess();
        GC.Collect();
        process.Refresh();
        var startResident = process.WorkingSet64;
        int parsed = 0, refused = 0;
        for (var i = 0; i < iterations; i++)
        {
            var input = gen.Generate(pcg, null, out _);
            Volatile.Write(ref current.Value, $"Input {i}: {Describe(input, describe)}");
            LastInput = input;
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                parse(input);
                parsed++;
            }
            catch (Exception e) when (isOwnError(e))
            {
                refused++;
            }
            catch (Exception e)
            {
                throw new FuzzFailure($"Input {i} of seed {seed} ended in {e.GetType().Name}: {e.Message} Input: {Describe(input, describe)}", e);
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated > maxAllocatedBytes)
            {
                throw new FuzzFailure($"Input {i} of seed {seed} allocated {allocated} managed bytes (bound {maxAllocatedBytes}). Input: {Describe(input, describe)}");
            }

            if (i % 50 == 49)
            {
                process.Refresh();
                var growth = process.WorkingSet64 - startResident;
                if (growth > maxGrowthBytes)
                {
                    throw new FuzzFailure($"After input {i} of seed {seed} the process had grown by {growth} bytes (bound {maxGrowthBytes}).");
                }
            }
        }

        return new Outcome(parsed, refused);
    }

    private static string Describe<T>(T input, Func<T, string>? describe)
    {
        if (describe is not null)
        {
            return describe(input);
        }

        var text = input is byte[] bytes ? Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 256))) : input?.ToString() ?? "null";
        return text.Length > 600 ? text[..600] + "..." : text;
    }

    /// <summary>
    /// Mutations of a valid input: bytes flipped or overwritten with boundary integers (0, -1, 2^31, 2^62...),
    /// truncation, insertion of random bytes, a chunk repeated; the mutations a corrupt download or a hostile
    /// writer produce.
    /// </summary>
    public static Gen<byte[]> Mutations(params byte[][] valid)
    {
        ArgumentNullException.ThrowIfNull(valid);
        return Gen.Int[0, valid.Length - 1].SelectMany(which => Gen.Int[0, 5].SelectMany(kind => Gen.Int[1, 6].SelectMany(count =>
            Gen.Int.Array[count].SelectMany(positions => Gen.Byte.Array[count * 8].Select(noise =>
                Mutate(valid[which], kind, positions, noise))))));
    }

    private static readonly ulong[] Boundaries =
        [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1UL << 40, 1UL << 62, long.MaxValue, ulong.MaxValue];

    private static byte[] Mutate(byte[] valid, int kind, int[] positions, byte[] noise)
    {
        if (valid.Length == 0)
        {
            return noise;
        }

        int At(int k) => (int)((uint)positions[k % positions.Length] % (uint)valid.Length);
        var bytes = (byte[])valid.Clone();
        switch (kind)
        {
            case 0:
                for (var k = 0; k < positions.Length; k++)
                {
                    bytes[At(k)] ^= (byte)(1 << (noise[k] & 7));
                }

                return bytes;
            case 1:
                for (var k = 0; k < positions.Length; k++)
                {
                    bytes[At(k)] = noise[k];
                }

                return bytes;
            case 2:
                for (var k = 0; k < positions.Length; k++)
                {
                    var p = At(k);
                    var value = Boundaries[noise[k] % Boundaries.Length];
                    var width = (noise[k] & 0x80) != 0 ? 8 : 4;
                    if (p + width <= bytes.Length)
                    {
                        if (width == 8)
                        {
                            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(p), value);
                        }
                        else if ((noise[k] & 0x40) != 0)
                        {
                            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(p), (uint)value);
                        }
                        else
                        {
                            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(p), (uint)value);
                        }
                    }
                }

                return bytes;
            case 3:
                return bytes[..At(0)];
            case 4:
                var at = At(0);
                return [.. bytes[..at], .. noise, .. bytes[at..]];
            default:
                var start = At(0);
                var length = Math.Min(bytes.Length - start, 1 + (noise[0] * 4));
                var chunk = bytes.AsSpan(start, length).ToArray();
                return [.. bytes[..start], .. chunk, .. chunk, .. bytes[start..]];
        }
    }
}

/// <summary>A fuzz input ended outside the parser's contract (another exception type, too much memory, a hang).</summary>
public sealed class FuzzFailure(string message, Exception? inner = null) : Exception(message, inner);
