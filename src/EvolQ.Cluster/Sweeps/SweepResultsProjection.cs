using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// The sweep manager's child that writes each of its journal events into the results tables (<see cref="ResultsDatabase"/>)
/// of the journal's own database, in journal order, off the manager's mailbox.
/// </summary>
/// <remarks>
/// The manager hands over every event it applies: the recovered ones on every start, then each one after it is
/// persisted. Events at or below the sequence number the tables already hold are skipped, so a restart writes only what
/// the tables miss (everything, when a results table was dropped). Writes run on the thread pool one batch at a time;
/// a failure is logged and retried with back-off, the event stays queued, and the manager never waits: the journal
/// remains the source of truth.
/// </remarks>
public sealed class SweepResultsProjection : ReceiveActor, IWithTimers
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(30);
    private const int BatchSize = 256;
    private static readonly TimeSpan StopFlush = TimeSpan.FromSeconds(10);

    private readonly ResultsDatabase database;
    private readonly ILoggingAdapter log = Context.GetLogger();
    private readonly Queue<Projected> pending = new();
    private long projected = -1;
    private bool writing;
    private int failures;
    private Task<Written>? inFlight;

    public SweepResultsProjection(ResultsDatabase database)
    {
        this.database = database;
        Receive<Projected>(p =>
        {
            pending.Enqueue(p);
            Next();
        });
        Receive<Written>(Done);
        Receive<Retry>(_ => Next());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>A journal event of the sweep manager with its sequence number.</summary>
    public sealed record Projected(long SequenceNr, IJobEvent Event) : INoSerializationVerificationNeeded;

    public static Props Props(ResultsDatabase database) => Akka.Actor.Props.Create(() => new SweepResultsProjection(database));

    /// <summary>
    /// The results tables of the database the journal uses (akka.persistence.journal.sql), or null when the journal is
    /// another plugin (an in-memory journal has no tables to project into).
    /// </summary>
    public static ResultsDatabase? DatabaseOf(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        const string sql = "akka.persistence.journal.sql";
        if (config.GetString("akka.persistence.journal.plugin", "") != sql)
            return null;
        var connection = config.GetString($"{sql}.connection-string", "");
        var provider = config.GetString($"{sql}.provider-name", "");
        return connection.Length == 0 || provider.Length == 0 ? null : new ResultsDatabase(new JournalDatabase(provider, connection));
    }

    private void Next()
    {
        if (writing || pending.Count == 0)
            return;
        writing = true;
        var batch = pending.Take(BatchSize).ToArray();
        var known = projected;
        var self = Self;
        inFlight = Task.Run(() => Write(batch, known));
        inFlight.ContinueWith(t => self.Tell(t.Result), TaskScheduler.Default);
    }

    /// <summary>
    /// Writes what is still queued before the manager goes (a node leaving, `evolq run` ending), so that the tables
    /// are complete for a reader that comes after the process: waiting here delays only the shutdown.
    /// </summary>
    protected override void PostStop()
    {
        var deadline = DateTime.UtcNow + StopFlush;
        if (inFlight is { IsCompleted: false } running && !running.Wait(StopFlush))
        {
            log.Warning("Sweep results: a write into {0} did not finish while the manager stopped; the next start writes it.", database.Database.Redacted);
            return;
        }
        var known = projected;
        if (inFlight is { IsCompleted: true } finished && writing)
        {
            for (var i = 0; i < finished.Result.Count; i++)
                pending.Dequeue();
            known = finished.Result.Error is null ? finished.Result.Projected : -1;
        }
        while (pending.Count > 0 && DateTime.UtcNow < deadline)
        {
            var written = Write(pending.Take(BatchSize).ToArray(), known);
            for (var i = 0; i < written.Count; i++)
                pending.Dequeue();
            known = written.Projected;
            if (written.Error is not null)
                break;
        }
        if (pending.Count > 0)
            log.Warning("Sweep results: {0} event(s) were not written into {1} before the manager stopped; the next start writes them.",
                pending.Count, database.Database.Redacted);
    }

    /// <summary>Writes what the tables lack of <paramref name="batch"/>, one transaction per event; never throws.</summary>
    private Written Write(Projected[] batch, long known)
    {
        var done = 0;
        try
        {
            using var connection = database.Open();
            if (known < 0)
                known = database.EnsureSchema(connection);
            foreach (var p in batch)
            {
                if (p.SequenceNr > known)
                {
                    database.Apply(connection, p.SequenceNr, p.Event);
                    known = p.SequenceNr;
                }
                done++;
            }
            return new Written(done, known, null);
        }
        catch (Exception e)
        {
            return new Written(done, known, e);
        }
    }

    private void Done(Written written)
    {
        writing = false;
        // After a failure the schema is checked again: a results table dropped while the node runs is created anew.
        projected = written.Error is null ? written.Projected : -1;
        for (var i = 0; i < written.Count; i++)
            pending.Dequeue();
        if (written.Error is { } error)
        {
            var delay = TimeSpan.FromTicks(Math.Min(LastRetry.Ticks, FirstRetry.Ticks << Math.Min(failures, 10)));
            failures++;
            // The results tables share the journal's storage: a full disk stops the node (its command says so in one
            // sentence). A misconfigured or unreachable database must not take the manager down: it keeps the events
            // and retries.
            if (StorageFaults.Get(Context.System).Report(SweepManager.PersistenceKey, error))
                log.Info("Sweep results: writing into {0} failed ({1}); the node stops.", database.Database.Redacted, StorageFaults.Describe(error));
            else
                log.Warning(error, "Sweep results: writing {0} event(s) into the results tables of {1} failed ({2}); retrying in {3} s.",
                    pending.Count, database.Database.Redacted, error.Message.Split('\n')[0], delay.TotalSeconds);
            Timers.StartSingleTimer(Retry.Instance, Retry.Instance, delay);
            return;
        }
        if (failures > 0)
            log.Info("Sweep results: the results tables of {0} are written again.", database.Database.Redacted);
        failures = 0;
        Next();
    }

    private sealed record Written(int Count, long Projected, Exception? Error) : INoSerializationVerificationNeeded;

    private sealed class Retry : INoSerializationVerificationNeeded
    {
        public static readonly Retry Instance = new();
    }
}
