using System.Threading.Channels;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace EvolQ.Cluster.Ctl;

/// <summary>One log event as ctl shows it.</summary>
public sealed record LogEntry(long Sequence, DateTime Timestamp, LogLevel Level, string Source, string Message);

/// <summary>
/// The recent log events of one actor system, in memory, for `log peek` and `log tail`; filled by
/// <see cref="RingBufferLogger"/>.
/// </summary>
public sealed class LogBuffer : IExtension
{
    private readonly object gate = new();
    private readonly LogEntry[] ring;
    private readonly List<ChannelWriter<LogEntry>> tails = [];
    private long next;

    public LogBuffer(int capacity) => ring = new LogEntry[Math.Max(1, capacity)];

    public int Capacity => ring.Length;

    /// <summary>The buffer of <paramref name="system"/>.</summary>
    public static LogBuffer Get(ActorSystem system) => system.WithExtension<LogBuffer, LogBufferProvider>();

    /// <summary>Keeps an event (dropping the oldest beyond the capacity) and hands it to every tail.</summary>
    public void Add(DateTime timestamp, LogLevel level, string source, string message)
    {
        lock (gate)
        {
            var entry = new LogEntry(next, timestamp, level, source, message);
            ring[next % ring.Length] = entry;
            next++;
            foreach (var tail in tails)
                tail.TryWrite(entry);
        }
    }

    /// <summary>The last <paramref name="count"/> events at or above <paramref name="minimum"/>, oldest first.</summary>
    public IReadOnlyList<LogEntry> Recent(int count, LogLevel minimum = LogLevel.DebugLevel)
    {
        lock (gate)
        {
            var result = new List<LogEntry>();
            for (var s = next - 1; s >= 0 && s >= next - ring.Length && result.Count < count; s--)
            {
                var entry = ring[s % ring.Length];
                if (entry.Level >= minimum)
                    result.Add(entry);
            }
            result.Reverse();
            return result;
        }
    }

    /// <summary>
    /// Events from now on until the token is cancelled; a reader that falls behind by more than the buffer loses the
    /// oldest of what it has not read (a slow ctl client must not grow the node's memory).
    /// </summary>
    public async IAsyncEnumerable<LogEntry> Tail([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation)
    {
        var channel = Channel.CreateBounded<LogEntry>(new BoundedChannelOptions(ring.Length)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (gate)
            tails.Add(channel.Writer);
        try
        {
            while (await channel.Reader.WaitToReadAsync(cancellation).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var entry))
                    yield return entry;
            }
        }
        finally
        {
            lock (gate)
                tails.Remove(channel.Writer);
        }
    }
}

/// <summary>Creates the <see cref="LogBuffer"/> of a system with evolq.ctl.log-buffer-size entries.</summary>
public sealed class LogBufferProvider : ExtensionIdProvider<LogBuffer>
{
    public override LogBuffer CreateExtension(ExtendedActorSystem system) =>
        new(CtlSettings.From(system.Settings.Config).LogBufferSize);
}

/// <summary>
/// An Akka logger (listed in akka.loggers) that keeps every event it receives in the system's <see cref="LogBuffer"/>.
/// </summary>
public sealed class RingBufferLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public RingBufferLogger()
    {
        var buffer = LogBuffer.Get(Context.System);
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => buffer.Add(e.Timestamp, e.LogLevel(), e.LogSource ?? "", Describe(e)));
    }

    private static string Describe(LogEvent e)
    {
        string text;
        try
        {
            text = e.Message?.ToString() ?? "";
        }
        catch (FormatException)
        {
            // A malformed template must not stop the logger; the raw template still says what happened.
            text = e.Message is LogMessage m ? m.Format : "";
        }
        return e.Cause is null ? text : $"{text} ({e.Cause.GetType().Name}: {e.Cause.Message})";
    }
}
