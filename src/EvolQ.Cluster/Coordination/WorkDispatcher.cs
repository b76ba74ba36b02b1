using System.Globalization;
using Akka.Actor;
using Akka.Event;
using EvolQ.Cluster.Protocol;
using EvolQ.Search;

namespace EvolQ.Cluster.Coordination;

/// <summary>
/// A job's dispatcher, owned by its coordinator (one thread): which workers it knows, which pieces of work are in
/// flight where and until when, and the per-batch losses gathered for each candidate of the current step.
/// </summary>
/// <remarks>
/// <para>
/// A step's candidates are split into contiguous batch ranges so that its workers finish it about together
/// (<see cref="PiecesPerCandidate"/>); the losses are put back in batch order and combined with <see cref="LossCombiner"/>, which
/// gives the bits one worker would. Every piece carries an <see cref="EvaluationKey"/>; a result for a piece already
/// had, a candidate already told or an older state version changes nothing.
/// </para>
/// <para>
/// Workers that hold the job are used first; others are prepared only while work is left unassigned. A piece whose
/// deadline passes, or whose worker dies, goes back to the queue; a worker that timed out is skipped until it is
/// heard from again. After MaxAttempts tries of one piece, or MaxAttempts failed preparations, <see cref="Fatal"/>
/// says why the job cannot go on.
/// </para>
/// <para>
/// It reads no clock and sends only through the worker references it is given: every method that depends on time
/// takes <c>now</c>, so WorkDispatcherTests drive it as plain state with a fake clock.
/// </para>
/// </remarks>
internal sealed class WorkDispatcher
{
    private readonly JobSpec spec;
    private readonly CoordinatorSettings settings;
    private readonly IActorRef self;
    private readonly ILoggingAdapter log;
    private readonly Action<IActorRef> watch;
    private readonly Dictionary<IActorRef, WorkerEntry> workers = [];
    private readonly Dictionary<long, CandidateWork> candidates = [];
    private readonly List<WorkUnit> units = [];
    private int stateVersion;
    private float[][] currentScales = [];
    private float[][]? finalScales;
    private WorkerEntry? finalWorker;
    private DateTime finalDeadline;
    private int finalAttempts;
    private int prepareFailures;
    private HashSet<IActorRef>? granted;
    private DateTime grantedAt;
    private DateTime awaitGrantUntil;
    private bool grantLapseLogged;
    private int stepSize = 1;

    /// <param name="watch">Called once for every worker first heard of, so the coordinator can watch it.</param>
    public WorkDispatcher(JobSpec spec, CoordinatorSettings settings, IActorRef self, ILoggingAdapter log, Action<IActorRef> watch)
    {
        this.spec = spec;
        this.settings = settings;
        this.self = self;
        this.log = log;
        this.watch = watch;
    }

    /// <summary>The fingerprint of the job's calibration; null until it is calibrated.</summary>
    public string? Fingerprint { get; set; }

    public int BatchCount { get; set; }

    /// <summary>Why the job cannot go on (tries exhausted); null while it can.</summary>
    public string? Fatal { get; private set; }

    /// <summary>Results or rejections that changed nothing (repeats, stale versions, candidates already told).</summary>
    public long Duplicates { get; private set; }

    /// <summary>Pieces of work sent again after a time-out, a rejection or a worker's death.</summary>
    public long Redispatches { get; private set; }

    /// <summary>Requests sent.</summary>
    public long RequestsSent { get; private set; }

    /// <summary>Pieces of work (and the final evaluation) sent and not yet answered, as of the last dispatch.</summary>
    public int InFlight { get; private set; }

    public IEnumerable<IActorRef> WorkerRefs => workers.Keys;

    /// <summary>
    /// How many workers the job can use now, for its claim on the allocator: one while it calibrates or runs its final
    /// evaluation, otherwise one per piece of a step split as finely as its batches allow.
    /// </summary>
    public int Wanted => Fingerprint is null || finalScales is not null ? 1 : Math.Max(1, stepSize * Math.Max(1, BatchCount));

    /// <summary>Ids of workers this job cannot use (a failed or different preparation), so none is granted to it.</summary>
    public string[] Unusable => workers.Values.Where(w => w.Preparation == Preparation.Incompatible)
        .Select(w => w.WorkerId).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Workers the allocator granted (0 before any grant); for metrics.</summary>
    public int GrantedCount => granted?.Count ?? 0;

    /// <summary>With an allocator, no worker is used until the first grant or until <paramref name="until"/>.</summary>
    public void AwaitGrant(DateTime until) => awaitGrantUntil = until;

    /// <summary>Takes the allocator's grant: from now on only these workers get new work or preparations.</summary>
    public void Granted(WorkerGrant grant, DateTime now)
    {
        granted = grant.Workers.ToHashSet();
        grantedAt = now;
        grantLapseLogged = false;
    }

    /// <summary>Workers that hold the job and are not suspected.</summary>
    public int UsableWorkers => workers.Values.Count(w => w.Preparation == Preparation.Ready && !w.Suspect);

    /// <summary>The ids of <see cref="UsableWorkers"/>, in order.</summary>
    public string[] UsableWorkerIds => workers.Values.Where(w => w.Preparation == Preparation.Ready && !w.Suspect)
        .Select(w => w.WorkerId).Order(StringComparer.Ordinal).ToArray();

    /// <returns>Whether the heartbeat can change what is dispatched: a worker first heard of, or one found to hold the job.</returns>
    public bool Heard(WorkerHeartbeat heartbeat, DateTime now)
    {
        var known = workers.Count;
        var worker = Touch(heartbeat.Worker, heartbeat.WorkerId, now);
        worker.Device = heartbeat.Device;
        // A worker that still holds the job from before (this coordinator restarted) can serve at once; which state
        // version it holds is unknown, so its first request carries the scales.
        if (Fingerprint is not null && worker.Preparation == Preparation.None
            && heartbeat.Jobs.Any(j => j.JobId == spec.JobId && j.Fingerprint == Fingerprint))
        {
            worker.Preparation = Preparation.Ready;
            worker.KnownVersion = -1;
            return true;
        }
        return workers.Count != known;
    }

    /// <summary>Forgets a worker (it died or went silent); its work goes back to the queue.</summary>
    public void Remove(IActorRef worker, string why)
    {
        if (!workers.Remove(worker, out var entry))
            return;
        log.Info("Job {0}: worker {1} is gone ({2}).", spec.JobId, entry.WorkerId, why);
        if (entry.Assigned is { } unit)
        {
            unit.AssignedTo = null;
            Redispatches++;
        }
        if (entry.FinalAssigned)
            finalWorker = null;
    }

    /// <summary>Forgets every worker at a cluster member's address.</summary>
    public void RemoveAt(Address address, string why)
    {
        foreach (var worker in workers.Keys.Where(w => w.Path.Address.Equals(address)).ToArray())
            Remove(worker, why);
    }

    /// <summary>Plans the pieces of a new step: the search's outstanding candidates at a state version.</summary>
    public void StartStep(IReadOnlyList<Candidate> ask, int version, float[][] scales, DateTime now)
    {
        stateVersion = version;
        currentScales = scales;
        var wanted = ask.Select(c => c.Id).ToHashSet();
        foreach (var stale in candidates.Keys.Where(id => !wanted.Contains(id)).ToArray())
            candidates.Remove(stale);
        units.RemoveAll(u => !wanted.Contains(u.Key.CandidateId) || u.Key.StateVersion != version);
        foreach (var worker in workers.Values.Where(w => w.Assigned is { } a && !units.Contains(a)))
            worker.Assigned = null;

        var fresh = ask.Where(c => !candidates.ContainsKey(c.Id)).ToArray();
        if (fresh.Length == 0)
            return;
        stepSize = Math.Max(stepSize, ask.Count);
        // Workers that could join count too: splitting leaves pieces waiting, which is what gets them prepared.
        var available = Math.Max(1, workers.Values.Count(w => Allowed(w, now)
            && (!w.Suspect && w.Preparation is Preparation.Ready or Preparation.Preparing || CanPrepare(w))));
        var parts = PiecesPerCandidate(fresh.Length, available, BatchCount);
        foreach (var candidate in fresh)
        {
            var work = new CandidateWork(candidate, BatchCount);
            for (var p = 0; p < parts; p++)
            {
                var first = BatchCount * p / parts;
                var end = BatchCount * (p + 1) / parts;
                var unit = new WorkUnit(new EvaluationKey(spec.JobId, version, candidate.Id, first, end - first), candidate.Block, candidate.Scales);
                work.Units.Add(unit);
                units.Add(unit);
            }
            candidates[candidate.Id] = work;
        }
    }

    /// <summary>
    /// How many contiguous pieces each of a step's candidates is cut into so that the workers finish the step about
    /// together (the step is a barrier: the next one needs every loss): the count that minimises rounds x (largest piece
    /// + one round trip), a round trip counted as half a batch; the fewest pieces among equals. Four candidates of 10
    /// batches on 3 workers are cut in halves (3 rounds of 5 batches instead of 2 of 10, one worker idle in the second).
    /// </summary>
    internal static int PiecesPerCandidate(int candidates, int workers, int batches)
    {
        const double RoundTrip = 0.5;
        workers = Math.Max(1, workers);
        var best = 1;
        var bestCost = double.MaxValue;
        for (var parts = 1; parts <= Math.Max(1, batches); parts++)
        {
            var rounds = (candidates * parts + workers - 1) / workers;
            var cost = rounds * ((batches + parts - 1) / parts + RoundTrip);
            if (cost < bestCost)
            {
                best = parts;
                bestCost = cost;
            }
        }
        return best;
    }

    /// <summary>Takes a result; returns the candidate and its combined loss when this result completed it.</summary>
    public (long CandidateId, double Loss)? OnResult(EvaluationResult result, IActorRef sender, DateTime now)
    {
        var key = result.Key;
        var worker = Touch(sender, result.WorkerId, now);
        worker.Suspect = false;
        if (key.StateVersion == stateVersion)
            worker.KnownVersion = stateVersion;
        if (worker.Assigned?.Key == key)
            worker.Assigned = null;

        if (key.JobId != spec.JobId || key.StateVersion != stateVersion || !candidates.TryGetValue(key.CandidateId, out var work))
        {
            Duplicates++;
            return null;
        }
        if (key.FirstBatch < 0 || key.BatchCount != result.Losses.Length || key.FirstBatch + key.BatchCount > BatchCount)
        {
            log.Warning("Job {0}: worker {1} answered {2} with {3} losses; ignored.", spec.JobId, result.WorkerId, key, result.Losses.Length);
            return null;
        }

        if (work.Units.FirstOrDefault(u => u.Key == key) is { } unit && !unit.Done)
        {
            unit.Done = true;
            worker.Completed++;
            // Another worker may still be computing this piece (it was sent again after a time-out): its answer
            // will be a duplicate, and it is free for new work as far as this job is concerned.
            if (unit.AssignedTo is { } other && other != worker && other.Assigned == unit)
                other.Assigned = null;
            unit.AssignedTo = null;
        }

        var added = false;
        for (var i = 0; i < result.Losses.Length; i++)
        {
            var batch = key.FirstBatch + i;
            if (work.Have[batch])
            {
                if (BitConverter.DoubleToInt64Bits(work.Losses[batch]) != BitConverter.DoubleToInt64Bits(result.Losses[i]))
                    log.Warning("Job {0}: batch {1} of candidate {2} came back as {3:R} and as {4:R}; evaluations are not deterministic.",
                        spec.JobId, batch, key.CandidateId, work.Losses[batch], result.Losses[i]);
                continue;
            }
            work.Losses[batch] = result.Losses[i];
            work.Have[batch] = true;
            work.Missing--;
            added = true;
        }
        if (!added)
            Duplicates++;
        if (work.Missing > 0)
            return null;

        candidates.Remove(key.CandidateId);
        units.RemoveAll(u => u.Key.CandidateId == key.CandidateId);
        foreach (var w in workers.Values.Where(w => w.Assigned?.Key.CandidateId == key.CandidateId))
            w.Assigned = null;
        return (key.CandidateId, LossCombiner.Combine(work.Losses));
    }

    public void OnRejected(EvaluationRejected rejection, IActorRef sender, DateTime now)
    {
        var key = rejection.Key;
        var worker = Touch(sender, rejection.WorkerId, now);
        worker.Suspect = false;
        if (worker.Assigned?.Key == key)
            worker.Assigned = null;
        switch (rejection.Reason)
        {
            case RejectionReason.JobUnknown:
                worker.Preparation = Preparation.None;
                worker.KnownVersion = -1;
                break;
            case RejectionReason.StateUnknown:
                worker.KnownVersion = -1;
                break;
            case RejectionReason.Invalid:
                log.Warning("Job {0}: worker {1} finds {2} invalid ({3}); it is not used for this job.", spec.JobId, worker.WorkerId, key, rejection.Message);
                worker.Preparation = Preparation.Incompatible;
                break;
            default:
                log.Warning("Job {0}: worker {1} failed {2}: {3}", spec.JobId, worker.WorkerId, key, rejection.Message);
                break;
        }

        var unit = units.FirstOrDefault(u => u.Key == key);
        if (unit is null || unit.Done)
        {
            Duplicates++;
            return;
        }
        if (unit.AssignedTo == worker)
            unit.AssignedTo = null;
        Redispatches++;
        if (rejection.Reason is RejectionReason.Failed or RejectionReason.Invalid && ++unit.Attempts >= settings.MaxAttempts)
            Fatal = $"Candidate {key.CandidateId} failed {unit.Attempts} times; the last error: {rejection.Message}";
    }

    /// <summary>Takes a worker's preparation; true when it matches the job's fingerprint (or sets it, when calibrating).</summary>
    public bool OnPrepared(JobPrepared prepared, IActorRef sender, DateTime now)
    {
        var worker = Touch(sender, prepared.WorkerId, now);
        worker.Suspect = false;
        if (Fingerprint is not null && prepared.Fingerprint != Fingerprint)
        {
            log.Warning("Job {0}: worker {1} prepared the job with fingerprint {2}, not {3}; it is not used for this job.",
                spec.JobId, worker.WorkerId, prepared.Fingerprint, Fingerprint);
            worker.Preparation = Preparation.Incompatible;
            return false;
        }
        worker.Preparation = Preparation.Ready;
        // A fresh preparation holds the calibrated scales: state version 0.
        worker.KnownVersion = 0;
        return true;
    }

    public void OnPrepareFailed(PrepareFailed failure, IActorRef sender, DateTime now)
    {
        var worker = Touch(sender, failure.WorkerId, now);
        log.Warning("Job {0}: worker {1} could not prepare it: {2}", spec.JobId, worker.WorkerId, failure.Message);
        worker.Preparation = Preparation.Incompatible;
        if (++prepareFailures >= settings.MaxAttempts || Fingerprint is null && !workers.Values.Any(CanPrepare))
            Fatal = failure.Message;
    }

    /// <summary>Asks for the final evaluation of these scales (replaces any step).</summary>
    public void StartFinal(float[][] scales)
    {
        candidates.Clear();
        units.Clear();
        foreach (var w in workers.Values)
            w.Assigned = null;
        finalScales = scales;
        finalWorker = null;
    }

    /// <summary>Takes a final result; true when it is the awaited one.</summary>
    public bool OnFinalResult(FinalEvaluationResult result, IActorRef sender, DateTime now)
    {
        var worker = Touch(sender, result.WorkerId, now);
        worker.Suspect = false;
        worker.FinalAssigned = false;
        if (finalScales is null)
            return false;
        finalScales = null;
        finalWorker = null;
        return true;
    }

    public void OnFinalFailed(FinalEvaluationFailed failure, IActorRef sender, DateTime now)
    {
        var worker = Touch(sender, failure.WorkerId, now);
        worker.FinalAssigned = false;
        if (failure.Reason == RejectionReason.JobUnknown)
            worker.Preparation = Preparation.None;
        if (finalWorker == worker)
            finalWorker = null;
        if (failure.Reason != RejectionReason.JobUnknown && ++finalAttempts >= settings.MaxAttempts)
            Fatal = $"The final evaluation failed {finalAttempts} times; the last error: {failure.Message}";
    }

    /// <summary>Drops silent workers and sends overdue work elsewhere.</summary>
    public void Tick(DateTime now)
    {
        foreach (var silent in workers.Values.Where(w => now - w.LastSeen > settings.WorkerTimeout).ToArray())
            Remove(silent.Ref, "silent for " + settings.WorkerTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture) + " s");

        foreach (var unit in units.Where(u => !u.Done && u.AssignedTo is not null && u.Deadline <= now))
        {
            var worker = unit.AssignedTo!;
            log.Warning("Job {0}: {1} timed out on worker {2}; sending it elsewhere.", spec.JobId, unit.Key, worker.WorkerId);
            worker.Suspect = true;
            worker.Assigned = null;
            unit.AssignedTo = null;
            Redispatches++;
            if (++unit.Attempts >= settings.MaxAttempts)
                Fatal = $"Candidate {unit.Key.CandidateId} timed out {unit.Attempts} times.";
        }

        foreach (var worker in workers.Values.Where(w => w.Preparation == Preparation.Preparing && w.PrepareDeadline <= now))
        {
            log.Warning("Job {0}: worker {1} did not prepare it in time.", spec.JobId, worker.WorkerId);
            worker.Preparation = Preparation.None;
            worker.Suspect = true;
        }

        if (finalWorker is { } fw && finalDeadline <= now)
        {
            fw.Suspect = true;
            fw.FinalAssigned = false;
            finalWorker = null;
            if (++finalAttempts >= settings.MaxAttempts)
                Fatal = $"The final evaluation timed out {finalAttempts} times.";
        }
    }

    /// <summary>Sends what can be sent: pieces to free prepared workers, preparations to others while work waits.</summary>
    public void Dispatch(DateTime now)
    {
        if (Fatal is not null)
            return;
        if (Fingerprint is null)
        {
            // Calibrating: one preparation at a time, since its outcome (the fingerprint) decides who may join.
            if (!workers.Values.Any(w => w.Preparation == Preparation.Preparing)
                && workers.Values.Where(w => CanPrepare(w) && Allowed(w, now)).OrderBy(w => w.WorkerId, StringComparer.Ordinal).FirstOrDefault() is { } first)
                SendPrepare(first, now);
            return;
        }

        // Most calls (every result, grant and tick of every job) find nothing waiting: no need to rank the workers.
        if (!units.Any(u => !u.Done && u.AssignedTo is null) && (finalScales is null || finalWorker is not null))
        {
            InFlight = CountInFlight();
            return;
        }

        var free = new Queue<WorkerEntry>(workers.Values
            .Where(w => w.Preparation == Preparation.Ready && !w.Suspect && w.Free && Allowed(w, now))
            .OrderByDescending(w => w.KnownVersion == stateVersion)
            .ThenBy(w => w.WorkerId, StringComparer.Ordinal));

        var waiting = 0;
        if (finalScales is not null && finalWorker is null)
        {
            if (free.TryDequeue(out var worker))
            {
                worker.FinalAssigned = true;
                finalWorker = worker;
                finalDeadline = now + settings.RequestTimeout;
                worker.Ref.Tell(new FinalEvaluationRequest(spec.JobId, finalScales), self);
            }
            else
            {
                waiting++;
            }
        }

        foreach (var unit in units.Where(u => !u.Done && u.AssignedTo is null))
        {
            if (!free.TryDequeue(out var worker))
            {
                waiting++;
                continue;
            }
            unit.AssignedTo = worker;
            unit.Deadline = now + settings.RequestTimeout;
            worker.Assigned = unit;
            var scales = worker.KnownVersion == stateVersion ? null : currentScales;
            worker.KnownVersion = stateVersion;
            RequestsSent++;
            worker.Ref.Tell(new EvaluationRequest(unit.Key, unit.Block, unit.Scales, scales), self);
        }

        InFlight = CountInFlight();
        waiting -= workers.Values.Count(w => w.Preparation == Preparation.Preparing);
        foreach (var worker in workers.Values.Where(w => CanPrepare(w) && Allowed(w, now)).OrderBy(w => w.WorkerId, StringComparer.Ordinal).Take(Math.Max(0, waiting)))
            SendPrepare(worker, now);
    }

    private int CountInFlight() => units.Count(u => !u.Done && u.AssignedTo is not null) + (finalWorker is null ? 0 : 1);

    private static bool CanPrepare(WorkerEntry w) => w.Preparation == Preparation.None && !w.Suspect && w.Free;

    /// <summary>
    /// Whether the allocator lets this job use the worker: always without an allocator, only granted ones while the
    /// grant is fresh, none while the first grant is awaited, and any again once no grant has come for a while.
    /// </summary>
    private bool Allowed(WorkerEntry w, DateTime now)
    {
        var lapse = settings.Allocation?.GrantTimeout ?? TimeSpan.Zero;
        if (granted is not null && now - grantedAt <= lapse)
            return granted.Contains(w.Ref);
        if (now < awaitGrantUntil)
            return false;
        if (granted is not null && !grantLapseLogged)
        {
            grantLapseLogged = true;
            log.Warning("Job {0}: no grant from the worker allocator for {1} s; using every worker until one comes.", spec.JobId, lapse.TotalSeconds);
        }
        return true;
    }

    private void SendPrepare(WorkerEntry worker, DateTime now)
    {
        worker.Preparation = Preparation.Preparing;
        worker.PrepareDeadline = now + settings.PrepareTimeout;
        worker.Ref.Tell(new PrepareJob(spec), self);
    }

    private WorkerEntry Touch(IActorRef worker, string workerId, DateTime now)
    {
        if (!workers.TryGetValue(worker, out var entry))
        {
            entry = new WorkerEntry(worker, workerId);
            workers[worker] = entry;
            watch(worker);
        }
        entry.WorkerId = workerId;
        entry.LastSeen = now;
        return entry;
    }
}
