using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace EvolQ.Testing;

/// <summary>
/// Waits for a condition instead of sleeping a fixed time before an assertion: polls until it holds and fails with
/// what was last seen when the time-out passes. A test on a loaded machine then waits only as long as it must.
/// </summary>
public static class Eventually
{
    /// <summary>How long to wait between two polls unless told otherwise.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls <paramref name="probe"/> until <paramref name="done"/> accepts its value, and returns that value.</summary>
    /// <param name="what">What is awaited, for the failure message ("the sweep is done").</param>
    public static async Task<T> Get<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string what, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(done);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var value = await probe();
            if (done(value))
                return value;
            if (clock.Elapsed >= timeout)
            {
                Assert.Fail($"Waited {Seconds(clock.Elapsed)} s for {what}; the last value seen: {value}.");
                throw new UnreachableException();
            }
            await Task.Delay(interval ?? DefaultInterval);
        }
    }

    /// <summary>Polls a synchronous probe; see <see cref="Get{T}(Func{Task{T}}, Func{T, bool}, TimeSpan, string, TimeSpan?)"/>.</summary>
    public static Task<T> Get<T>(Func<T> probe, Func<T, bool> done, TimeSpan timeout, string what, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(probe);
        return Get(() => Task.FromResult(probe()), done, timeout, what, interval);
    }

    /// <summary>Waits until <paramref name="condition"/> is true.</summary>
    public static Task True(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? interval = null) =>
        Get(condition, held => held, timeout, what, interval);

    /// <summary>Waits until <paramref name="condition"/> is true.</summary>
    public static Task True(Func<bool> condition, TimeSpan timeout, string what, TimeSpan? interval = null) =>
        Get(condition, held => held, timeout, what, interval);

    /// <summary>
    /// Checks that <paramref name="condition"/> stays true for all of <paramref name="period"/>, failing as soon as
    /// it does not: for what must not happen (no progress after a cancel), where no event says the danger is over.
    /// </summary>
    public static async Task Holds(Func<Task<bool>> condition, TimeSpan period, string what, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        do
        {
            Assert.True(await condition(), $"After {Seconds(clock.Elapsed)} s, {what} no longer held.");
            await Task.Delay(interval ?? DefaultInterval);
        }
        while (clock.Elapsed < period);
        Assert.True(await condition(), $"After {Seconds(clock.Elapsed)} s, {what} no longer held.");
    }

    /// <summary>Checks that <paramref name="condition"/> stays true for all of <paramref name="period"/>.</summary>
    public static Task Holds(Func<bool> condition, TimeSpan period, string what, TimeSpan? interval = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return Holds(() => Task.FromResult(condition()), period, what, interval);
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
}
