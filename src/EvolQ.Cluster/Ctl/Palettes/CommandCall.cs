using System.Globalization;
using EvolQ.Cluster.Ctl.Wire;

namespace EvolQ.Cluster.Ctl.Palettes;

/// <summary>One running command: its parsed arguments, payload, where it writes, and when to stop.</summary>
public sealed class CommandCall(
    CtlContext context,
    IReadOnlyDictionary<string, string> values,
    IReadOnlySet<string> flags,
    string? payload,
    ICommandOutput output,
    CancellationToken cancellation)
{
    public CtlContext Context { get; } = context;

    /// <summary>The request's text payload; null when none was sent.</summary>
    public string? Payload { get; } = payload;

    public ICommandOutput Output { get; } = output;

    /// <summary>Cancelled when the client cancels the command or goes away.</summary>
    public CancellationToken Cancellation { get; } = cancellation;

    /// <summary>An argument's or option's value (its default when not given); null when neither.</summary>
    public string? Get(string name) => values.TryGetValue(name, out var value) ? value : null;

    /// <summary>A required argument's value.</summary>
    public string Required(string name) => Get(name) ?? throw new CommandUsageException($"The argument <{name}> is missing.");

    /// <summary>An option's value as a positive integer.</summary>
    public int PositiveInt(string name)
    {
        var text = Required(name);
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new CommandUsageException($"--{name} is '{text}', not a positive whole number.");
    }

    /// <summary>Whether a flag was given.</summary>
    public bool Flag(string name) => flags.Contains(name);
}

/// <summary>Where a command writes its response (frames go to the client in order).</summary>
public interface ICommandOutput
{
    Task Table(string title, IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows);

    Task Text(string text);
}

/// <summary>What the palettes may use of the node: its actor system and the actors ctl talks to.</summary>
/// <param name="Jobs">The job shard region (or its proxy).</param>
/// <param name="SweepManager">The sweep manager singleton (proxy); null on a node without one.</param>
public sealed record CtlContext(
    Akka.Actor.ActorSystem System,
    Akka.Actor.IActorRef Jobs,
    Akka.Actor.IActorRef? SweepManager,
    CtlSettings Settings)
{
    /// <summary>When the node started, for uptimes.</summary>
    public DateTime StartedAt { get; init; } = DateTime.UtcNow;
}

/// <summary>Formatting shared by the palettes so that tables look alike.</summary>
internal static class Cells
{
    public static string Int(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Loss(double value) => double.IsNaN(value) ? "-" : value.ToString("0.000000", CultureInfo.InvariantCulture);

    public static string Time(DateTime utc) => utc.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string UnixMs(long ms) => ms <= 0 ? "-" : Time(DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime);

    public static string Duration(TimeSpan span) => span.TotalDays >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalDays}d {span.Hours:00}h {span.Minutes:00}m")
        : string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalHours:00}:{span.Minutes:00}:{span.Seconds:00}");

    public static string Bytes(long bytes) => bytes switch
    {
        <= 0 => "-",
        < 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        < 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.0} GiB"),
    };
}
