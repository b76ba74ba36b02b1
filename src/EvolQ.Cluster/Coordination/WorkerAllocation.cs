namespace EvolQ.Cluster.Coordination;

/// <summary>A running job as the worker allocator sees it.</summary>
/// <param name="Wanted">Workers the job can use now; 0 claims none.</param>
/// <param name="Order">Lower is older: older jobs get a worker first and the odd workers of an uneven split.</param>
/// <param name="Unusable">Worker ids this job must not get.</param>
public sealed record JobClaim(string JobId, int Wanted, long Order, IReadOnlySet<string> Unusable);

/// <summary>A worker as the allocator sees it: its id and the jobs it holds prepared (from its heartbeat).</summary>
public sealed record WorkerSeat(string WorkerId, IReadOnlySet<string> HeldJobs);

/// <summary>
/// Shares workers among running jobs: every job gets a worker before any gets a second, the rest go round by age up
/// to what each job can use, and a worker keeps serving the job it served or holds whenever the shares allow.
/// </summary>
/// <remarks>
/// <para>
/// With at least as many workers as jobs, each worker serves one job. With fewer, a worker serves up to
/// <c>jobsPerWorker</c> jobs (what it can keep prepared; its queue takes their requests in arrival order); jobs beyond
/// that wait, oldest first served, so a sweep finishes jobs instead of thrashing its workers between all of them.
/// </para>
/// <para>
/// The plan is a pure function of its inputs (ties broken by ordinal ids), so the allocator can recompute it on every
/// change: a worker is moved only when the shares change. Which worker evaluates what never changes a job's result.
/// </para>
/// </remarks>
public static class WorkerAllocation
{
    /// <param name="previous">The last plan (job id to worker ids); workers stay where they were when they may.</param>
    /// <returns>Every claiming job (Wanted &gt; 0) with its granted worker ids, possibly none.</returns>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Plan(
        IReadOnlyList<JobClaim> jobs,
        IReadOnlyList<WorkerSeat> workers,
        int jobsPerWorker,
        IReadOnlyDictionary<string, IReadOnlyList<string>> previous)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(workers);
        ArgumentNullException.ThrowIfNull(previous);
        var claims = jobs.Where(j => j.Wanted > 0)
            .OrderBy(j => j.Order).ThenBy(j => j.JobId, StringComparer.Ordinal).ToArray();
        var seats = workers.OrderBy(w => w.WorkerId, StringComparer.Ordinal).ToArray();
        var active = claims.Select(c => c.JobId).ToHashSet(StringComparer.Ordinal);
        var load = seats.ToDictionary(w => w.WorkerId, _ => 0, StringComparer.Ordinal);
        var plan = claims.ToDictionary(c => c.JobId, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        var before = previous.ToDictionary(p => p.Key, p => p.Value.ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);

        // Preference of one job among eligible workers: the least loaded, then the one it had, one that holds it
        // prepared, one that holds no other running job (that job may want it back), then the lowest id. One pass with
        // a strict comparison keeps the first of equals, and seats are in id order: the allocator replans on every
        // change, so this runs for every job on every claim and heartbeat that changes something.
        WorkerSeat? Best(JobClaim job, Func<WorkerSeat, bool> eligible)
        {
            var had = before.TryGetValue(job.JobId, out var set) ? set : null;
            var taken = plan[job.JobId];
            WorkerSeat? best = null;
            (int Load, int NotHad, int NotHeld, int Others) bestKey = default;
            foreach (var w in seats)
            {
                if (!eligible(w) || job.Unusable.Contains(w.WorkerId) || taken.Contains(w.WorkerId))
                    continue;
                var others = 0;
                foreach (var h in w.HeldJobs)
                {
                    if (h != job.JobId && active.Contains(h))
                        others++;
                }
                var key = (load[w.WorkerId], had is not null && had.Contains(w.WorkerId) ? 0 : 1, w.HeldJobs.Contains(job.JobId) ? 0 : 1, others);
                if (best is null || key.CompareTo(bestKey) < 0)
                {
                    best = w;
                    bestKey = key;
                }
            }
            return best;
        }

        void Assign(JobClaim job, WorkerSeat worker)
        {
            plan[job.JobId].Add(worker.WorkerId);
            load[worker.WorkerId]++;
        }

        // Everyone's first worker, oldest job first, on the least loaded worker.
        var capacity = Math.Max(1, jobsPerWorker);
        foreach (var job in claims)
        {
            if (Best(job, w => load[w.WorkerId] < capacity) is { } worker)
                Assign(job, worker);
        }

        // Then the idle workers, one per job per round, to jobs that can use more.
        for (var progress = true; progress;)
        {
            progress = false;
            foreach (var job in claims.Where(c => plan[c.JobId].Count < c.Wanted))
            {
                if (Best(job, w => load[w.WorkerId] == 0) is { } worker)
                {
                    Assign(job, worker);
                    progress = true;
                }
            }
        }

        return plan.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value.Order(StringComparer.Ordinal).ToArray(), StringComparer.Ordinal);
    }
}
