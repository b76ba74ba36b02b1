using EvolQ.Testing;
using Xunit.Sdk;

namespace EvolQ.Cluster.Tests;

/// <summary>The waiting helper itself: it returns as soon as the condition holds and fails saying what it saw.</summary>
public sealed class EventuallyTests
{
    [Fact]
    public async Task Get_returns_the_first_value_that_is_done()
    {
        var polls = 0;
        var value = await Eventually.Get(() => ++polls, n => n >= 3, TimeSpan.FromSeconds(10), "three polls", TimeSpan.FromMilliseconds(1));
        Assert.Equal(3, value);
        Assert.Equal(3, polls);
    }

    [Fact]
    public async Task A_condition_that_never_holds_fails_with_what_was_awaited_and_the_last_value()
    {
        var failure = await Assert.ThrowsAsync<FailException>(() =>
            Eventually.Get(() => "still waiting", _ => false, TimeSpan.FromMilliseconds(100), "the impossible", TimeSpan.FromMilliseconds(10)));
        Assert.Contains("for the impossible; the last value seen: still waiting.", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Holds_fails_as_soon_as_the_condition_breaks()
    {
        var polls = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAsync<TrueException>(() =>
            Eventually.Holds(() => ++polls < 3, TimeSpan.FromSeconds(30), "the count below three", TimeSpan.FromMilliseconds(1)));
        Assert.Equal(3, polls);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
        await Eventually.Holds(() => true, TimeSpan.FromMilliseconds(50), "true", TimeSpan.FromMilliseconds(5));
    }
}
