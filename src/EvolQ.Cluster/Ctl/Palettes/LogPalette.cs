using Akka.Event;

namespace EvolQ.Cluster.Ctl.Palettes;

/// <summary>`log`: the node's recent log events (kept in memory by <see cref="RingBufferLogger"/>) and new ones as they come.</summary>
public sealed class LogPalette(CtlContext context) : Palette("log", "The node's log: recent events and a live tail.")
{
    [Command("peek", "The most recent log events, oldest first.")]
    [Option("count", "how many events", Default = "20", Short = "c")]
    [Option("level", "the lowest level shown: debug, info, warning, error", Default = "debug", Short = "l", Values = ValueKinds.Level)]
    public Task Peek(CommandCall call)
    {
        var count = call.PositiveInt("count");
        var level = Level(call.Required("level"));
        var entries = LogBuffer.Get(context.System).Recent(count, level);
        return call.Output.Table("", ["time", "level", "source", "message"],
            entries.Select(e => (IReadOnlyList<string>)[Cells.Time(e.Timestamp), LevelName(e.Level), e.Source, e.Message]));
    }

    [Command("slurp", "Every log event the node keeps in memory (evolq.ctl.log-buffer-size), oldest first.")]
    [Option("level", "the lowest level shown: debug, info, warning, error", Default = "debug", Short = "l", Values = ValueKinds.Level)]
    public Task Slurp(CommandCall call)
    {
        var level = Level(call.Required("level"));
        var buffer = LogBuffer.Get(context.System);
        var entries = buffer.Recent(buffer.Capacity, level);
        return call.Output.Table("", ["time", "level", "source", "message"],
            entries.Select(e => (IReadOnlyList<string>)[Cells.Time(e.Timestamp), LevelName(e.Level), e.Source, e.Message]));
    }

    [Command("tail", "Log events as they happen; Ctrl+C stops.", Streaming = true)]
    [Option("level", "the lowest level shown: debug, info, warning, error", Default = "debug", Short = "l", Values = ValueKinds.Level)]
    public async Task Tail(CommandCall call)
    {
        var level = Level(call.Required("level"));
        await foreach (var e in LogBuffer.Get(context.System).Tail(call.Cancellation).ConfigureAwait(false))
        {
            if (e.Level >= level)
                await call.Output.Text($"{Cells.Time(e.Timestamp)} {LevelName(e.Level),-7} {e.Source}: {e.Message}").ConfigureAwait(false);
        }
    }

    private static LogLevel Level(string text) => text.ToLowerInvariant() switch
    {
        "debug" => LogLevel.DebugLevel,
        "info" => LogLevel.InfoLevel,
        "warning" or "warn" => LogLevel.WarningLevel,
        "error" => LogLevel.ErrorLevel,
        _ => throw new CommandUsageException($"--level is '{text}': use debug, info, warning or error."),
    };

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.DebugLevel => "debug",
        LogLevel.InfoLevel => "info",
        LogLevel.WarningLevel => "warning",
        _ => "error",
    };
}
