using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;
using EvolQ.Engine.Evaluation;
using EvolQ.Testing.Cluster;

namespace EvolQ.Cluster.Tests;

/// <summary>The sweep manager's bookkeeping as plain state: events in, decisions out, no actor and no clock.</summary>
public sealed class SweepBookTests
{
    private static SweepSpec Sweep(string id, int jobs, int atOnce) =>
        new(id, id, Enumerable.Range(0, jobs).Select(i => Job($"{id}.j{i}")).ToArray(), atOnce, "test");

    private static SweepJob Job(string jobId) => new(SyntheticJobs.Spec(jobId), "synthetic", "W4A8", 0);

    /// <summary>Applies the launches the book decides on now, as the actor does once they are journaled.</summary>
    private static string[] Launch(SweepBook book, long now = 100)
    {
        var launches = book.Launches(now);
        foreach (var e in launches)
            book.Apply(e);
        return launches.Select(e => e.JobId).ToArray();
    }

    private static SweepBook Book(int maxRunningJobs, params SweepSpec[] sweeps)
    {
        var book = new SweepBook(maxRunningJobs);
        foreach (var sweep in sweeps)
            book.Apply(new SweepSubmitted(sweep, 10));
        return book;
    }

    private static JobResult Result(string jobId, JobPhase phase, string? error = null) =>
        new(jobId, phase, ["blocks.0.attn"], [[0.25f, 0.5f]], [], [new VisitRecord(1, 0, 0.5, 0.4, 7, 4)], new JobMetrics(null, EvolQ: new TopAccuracy(0.8, null)), error);

    private static void End(SweepBook book, string jobId, JobPhase phase = JobPhase.Done, long now = 200) =>
        book.Apply(Assert.IsType<SweepJobEnded>(book.Ended(Result(jobId, phase), now)));

    [Fact]
    public void Jobs_launch_in_order_within_each_sweeps_limit_and_the_global_one_and_an_end_frees_a_slot()
    {
        var book = Book(3, Sweep("s1", 4, atOnce: 2), Sweep("s2", 3, atOnce: 2));

        Assert.Equal(["s1.j0", "s1.j1", "s2.j0"], Launch(book));
        Assert.Empty(Launch(book));
        Assert.Equal(3, book.RunningJobs);

        // s1 has a free slot of its own and the end frees a global one: s1 goes first, being older.
        End(book, "s1.j0");
        Assert.Equal(["s1.j2"], Launch(book));
        End(book, "s2.j0");
        Assert.Equal(["s2.j1"], Launch(book));
    }

    [Fact]
    public void Without_a_global_limit_each_sweep_runs_up_to_its_own()
    {
        var book = Book(0, Sweep("s1", 4, atOnce: 2), Sweep("s2", 3, atOnce: 3));
        Assert.Equal(["s1.j0", "s1.j1", "s2.j0", "s2.j1", "s2.j2"], Launch(book));
        var launched = book.Launches(123);
        Assert.Empty(launched);
    }

    [Fact]
    public void A_cancelled_sweep_launches_nothing_its_jobs_stop_counting_and_on_resume_it_waits_for_room()
    {
        var book = Book(2, Sweep("s1", 3, atOnce: 2));
        Assert.Equal(["s1.j0", "s1.j1"], Launch(book));

        book.Apply(new SweepCancelled("s1", 300));
        Assert.Equal(SweepState.Cancelled, book.StateOf("s1"));
        Assert.Equal(["s1.j0", "s1.j1"], book.Unended("s1"));
        Assert.Equal(0, book.RunningJobs);
        Assert.Empty(Launch(book));

        book.Apply(new SweepSubmitted(Sweep("s2", 2, atOnce: 2), 310));
        Assert.Equal(["s2.j0", "s2.j1"], Launch(book));

        book.Apply(new SweepResumed("s1"));
        Assert.Equal(4, book.RunningJobs);
        Assert.Empty(Launch(book));
        End(book, "s2.j0");
        End(book, "s2.j1");
        End(book, "s1.j0");
        Assert.Equal(["s1.j2"], Launch(book));
    }

    [Fact]
    public void What_a_job_is_seen_doing_decides_the_command_that_repairs_it()
    {
        var book = Book(0, Sweep("s1", 3, atOnce: 2));
        Launch(book);

        // A launch that never reached the coordinator is submitted again with the job's own spec.
        var resubmit = Assert.IsType<SubmitJob>(book.Observe("s1.j0", JobPhase.Pending));
        Assert.Same(book.SpecOf("s1.j0"), resubmit.Spec);
        Assert.Equal(new GetJobResult("s1.j0"), book.Observe("s1.j0", JobPhase.Done));
        Assert.Equal(new GetJobResult("s1.j0"), book.Observe("s1.j0", JobPhase.Failed));
        Assert.Null(book.Observe("s1.j0", JobPhase.Searching));
        Assert.Equal(new ResumeJob("s1.j1"), book.Observe("s1.j1", JobPhase.Cancelled));

        // Jobs the book did not launch, has ended or does not know are left alone.
        Assert.Null(book.Observe("s1.j2", JobPhase.Pending));
        Assert.Null(book.Observe("nobody.j0", JobPhase.Pending));
        End(book, "s1.j0");
        Assert.Null(book.Observe("s1.j0", JobPhase.Pending));

        book.Apply(new SweepCancelled("s1", 300));
        Assert.Equal(new CancelJob("s1.j1"), book.Observe("s1.j1", JobPhase.Searching));
        Assert.Null(book.Observe("s1.j1", JobPhase.Cancelled));
        Assert.Equal(1, book.Summary("s1").Cancelled);
        book.Apply(new SweepResumed("s1"));
        Assert.Equal(new ResumeJob("s1.j1"), book.Observe("s1.j1", JobPhase.Cancelled));
    }

    [Fact]
    public void A_job_ends_once_and_the_sweep_is_done_when_every_job_has_ended()
    {
        var book = Book(0, Sweep("s1", 2, atOnce: 2));
        Launch(book);
        Assert.Equal(["s1.j0", "s1.j1"], book.ToPoll());

        Assert.Null(book.Ended(Result("s1.j0", JobPhase.Searching), 200));
        var ended = Assert.IsType<SweepJobEnded>(book.Ended(Result("s1.j0", JobPhase.Done), 200));
        Assert.Equal(("s1", JobPhase.Done, (double?)0.8), (ended.SweepId, ended.Phase, ended.Metrics?.EvolQ?.Top1));
        // The searched scales go into the journal with the end, so the job's model can be written from the results alone.
        Assert.Equal([0.25f, 0.5f], Assert.Single(ended.FinalScales!));
        book.Apply(ended);
        Assert.Null(book.Ended(Result("s1.j0", JobPhase.Done), 201));
        Assert.Equal(["s1.j1"], book.ToPoll());
        Assert.Equal(SweepState.Running, book.StateOf("s1"));

        var rejected = Assert.IsType<SweepJobEnded>(book.Rejected(new JobRejected("s1.j1", "bad spec"), 250));
        Assert.Equal((JobPhase.Failed, "bad spec"), (rejected.Phase, rejected.Error));
        Assert.Null(rejected.FinalScales);
        book.Apply(rejected);
        Assert.Null(book.Rejected(new JobRejected("s1.j1", "bad spec"), 260));
        Assert.Null(book.Ended(Result("s1.j1", JobPhase.Failed), 260));

        var summary = book.Summary("s1");
        Assert.Equal((SweepState.Done, 1, 1, 0, 250L), (summary.State, summary.Done, summary.Failed, summary.Running, summary.FinishedAtUnixMs));
        Assert.Empty(book.ToPoll());
        Assert.Empty(book.List(includeFinished: false).Sweeps);
        Assert.Single(book.List(includeFinished: true).Sweeps);
    }

    [Fact]
    public void The_detail_shows_waiting_jobs_as_pending_and_ended_ones_with_their_metrics()
    {
        var book = Book(1, Sweep("s1", 3, atOnce: 2));
        Launch(book);
        book.Observe("s1.j0", JobPhase.Searching);
        var detail = Assert.IsType<SweepDetail>(book.Detail("s1"));
        Assert.Equal([JobPhase.Searching, JobPhase.Pending, JobPhase.Pending], detail.Jobs.Select(j => j.Phase));
        Assert.Equal((3, 2, 1), (detail.Summary.Jobs, detail.Summary.Waiting, detail.Summary.Running));

        End(book, "s1.j0");
        var done = Assert.IsType<SweepDetail>(book.Detail("s1")).Jobs[0];
        Assert.Equal(0.8, done.Metrics?.EvolQ?.Top1);
        Assert.Single(done.Visits);
        Assert.Null(book.Detail("nobody"));
    }

    [Fact]
    public void A_submission_is_refused_when_it_cannot_run_or_clashes_and_a_repeat_gets_the_summary()
    {
        var book = Book(0, Sweep("s1", 2, atOnce: 1));

        Assert.Null(book.RefuseOrRepeat(Sweep("s2", 2, atOnce: 1)));
        Assert.Equal("s1", Assert.IsType<SweepSummary>(book.RefuseOrRepeat(Sweep("s1", 2, atOnce: 1))).SweepId);
        Assert.Contains("already exists", Assert.IsType<SweepRejected>(book.RefuseOrRepeat(Sweep("s1", 2, atOnce: 2))).Reason, StringComparison.Ordinal);
        Assert.Contains("at least one job", Assert.IsType<SweepRejected>(book.RefuseOrRepeat(Sweep("s3", 2, atOnce: 0))).Reason, StringComparison.Ordinal);
        Assert.IsType<SweepRejected>(book.RefuseOrRepeat(null));

        // Job ids start with their sweep's id, so "s1.x.j0" fits both sweep "s1" and sweep "s1.x".
        book.Apply(new SweepSubmitted(new SweepSpec("s4", "s4", [Job("s4.x.j0")], 1, "test"), 20));
        var clash = book.RefuseOrRepeat(new SweepSpec("s4.x", "s4.x", [Job("s4.x.j0")], 1, "test"));
        Assert.Equal("Job 's4.x.j0' already belongs to another sweep.", Assert.IsType<SweepRejected>(clash).Reason);
    }

    [Fact]
    public void The_same_sweep_from_another_file_resumes_and_a_changed_one_is_refused_with_a_line_per_difference()
    {
        var book = Book(0, Sweep("s1", 3, atOnce: 2));

        // Another path, another copy: the same content is the same sweep, built from fresh objects.
        var copy = Sweep("s1", 3, atOnce: 2) with { Source = "/elsewhere/copy-of-s1.conf" };
        Assert.Equal("s1", Assert.IsType<SweepSummary>(book.RefuseOrRepeat(copy)).SweepId);

        // Every job searches longer, one job has another seed, one is gone, the limit and retries changed.
        var jobs = Sweep("s1", 3, atOnce: 2).Jobs.Take(2)
            .Select(j => j with { Spec = j.Spec with { Search = j.Spec.Search with { Passes = j.Spec.Search.Passes + 1 } } }).ToArray();
        jobs[1] = jobs[1] with { Spec = jobs[1].Spec with { CalibrationSeed = 99 } };
        var changed = new SweepSpec("s1", "s1", jobs, 3, "test", Retries: 2);
        var reason = Assert.IsType<SweepRejected>(book.RefuseOrRepeat(changed)).Reason.Split('\n');
        Assert.StartsWith("Sweep 's1' already exists with other content", reason[0], StringComparison.Ordinal);
        Assert.Equal(
        [
            "max-concurrent-jobs: '2' before, '3' now",
            "retries: '0' before, '2' now",
            "jobs only in the sweep submitted before: s1.j2",
            "calibration.seed: '5' before, '99' now (s1.j1)",
            "search.passes: '1' before, '2' now (every job)",
        ], reason[1..]);
    }

    [Fact]
    public void A_retry_sends_failed_jobs_back_to_waiting_as_their_next_attempt_and_they_launch_within_the_limits()
    {
        var book = Book(0, Sweep("s1", 3, atOnce: 1));
        Launch(book);
        book.Apply(Assert.IsType<SweepJobEnded>(book.Ended(Result("s1.j0", JobPhase.Failed, "no data"), 200)));
        Launch(book);
        End(book, "s1.j1");
        Launch(book);
        book.Apply(Assert.IsType<SweepJobEnded>(book.Ended(Result("s1.j2", JobPhase.Failed, "no data either"), 300)));
        Assert.Equal(SweepState.Done, book.StateOf("s1"));

        // Refusals: one sentence each; nothing changes.
        Assert.Equal("There is no sweep 'nope'.", book.Retry("nope", null, 400).Refused!.Reason);
        Assert.Equal("Sweep 's1' has no job 's1.j9'.", book.Retry("s1", "s1.j9", 400).Refused!.Reason);
        Assert.Equal("Job 's1.j1' is done, not failed: only failed jobs are retried.", book.Retry("s1", "s1.j1", 400).Refused!.Reason);

        var (retries, refused) = book.Retry("s1", null, 400);
        Assert.Null(refused);
        Assert.Equal([new SweepJobRetried("s1", "s1.j0", 2, 400), new SweepJobRetried("s1", "s1.j2", 2, 400)], retries);
        foreach (var e in retries)
            book.Apply(e);
        var summary = book.Summary("s1");
        Assert.Equal((SweepState.Running, 2, 1, 0, 0L), (summary.State, summary.Waiting, summary.Done, summary.Failed, summary.FinishedAtUnixMs));
        Assert.Equal("Sweep 's1' has no failed jobs to retry.", book.Retry("s1", null, 410).Refused!.Reason);

        // The sweep's limit holds for retries too; the launch of a later attempt is a retry, not a submission.
        Assert.Equal(["s1.j0"], Launch(book, now: 500));
        Assert.Equal(new RetryJob("s1.j0", 2), book.LaunchOf("s1.j0"));
        Assert.Equal(new SubmitJob(book.SpecOf("s1.j1")), book.LaunchOf("s1.j1"));

        // The coordinator still failed at attempt 1: the retry was lost, so it is sent again; its old result ends nothing.
        Assert.Equal(new RetryJob("s1.j0", 2), book.Observe("s1.j0", JobPhase.Failed, attempt: 1));
        Assert.Null(book.Ended(Result("s1.j0", JobPhase.Failed, "no data") with { Attempt = 1 }, 510));
        Assert.Equal(new GetJobResult("s1.j0"), book.Observe("s1.j0", JobPhase.Failed, attempt: 2));
        Assert.Null(book.Observe("s1.j0", JobPhase.Searching, attempt: 2));
        // A stale rejection cannot end the job still waiting for its launch.
        Assert.Null(book.Rejected(new JobRejected("s1.j2", "late"), 520));

        book.Apply(Assert.IsType<SweepJobEnded>(book.Ended(Result("s1.j0", JobPhase.Done) with { Attempt = 2 }, 600)));
        Assert.Null(book.Ended(Result("s1.j0", JobPhase.Done) with { Attempt = 2 }, 601));
        var detail = book.Detail("s1")!;
        var j0 = detail.Jobs[0];
        Assert.Equal((JobPhase.Done, 2, (string?)null, (double?)0.8), (j0.Phase, j0.Attempt, j0.Error, j0.Metrics?.EvolQ?.Top1));
        Assert.Equal([new JobFailure(1, "no data", 200)], j0.Failures!);
        Assert.Equal([new JobFailure(1, "no data either", 300)], detail.Jobs[2].Failures!);
        Assert.Equal((JobPhase.Pending, 2), (detail.Jobs[2].Phase, detail.Jobs[2].Attempt));
    }

    [Fact]
    public void A_sweep_with_retries_retries_a_failure_on_its_own_until_its_attempts_are_spent_and_not_when_cancelled()
    {
        var book = Book(0, Sweep("s1", 1, atOnce: 1) with { Retries = 1 }, Sweep("s2", 1, atOnce: 1) with { Retries = 3 });
        Launch(book);

        var first = Assert.IsType<SweepJobEnded>(book.Ended(Result("s1.j0", JobPhase.Failed, "boom"), 200));
        var retry = Assert.IsType<SweepJobRetried>(book.AutomaticRetry(first, 200));
        Assert.Equal(("s1", 2), (retry.SweepId, retry.Attempt));
        book.Apply(first);
        book.Apply(retry);
        Assert.Equal(SweepState.Running, book.StateOf("s1"));
        Launch(book);
        var second = Assert.IsType<SweepJobEnded>(book.Ended(Result("s1.j0", JobPhase.Failed, "boom") with { Attempt = 2 }, 300));
        Assert.Null(book.AutomaticRetry(second, 300));
        book.Apply(second);
        Assert.Equal(SweepState.Done, book.StateOf("s1"));
        Assert.Equal([1, 2], book.Detail("s1")!.Jobs[0].Failures!.Select(f => f.Attempt));

        // A done job is not retried, nor a failure in a cancelled sweep.
        Assert.Null(book.AutomaticRetry(book.Ended(Result("s2.j0", JobPhase.Done), 400)!, 400));
        book.Apply(new SweepCancelled("s2", 410));
        Assert.Null(book.AutomaticRetry(book.Ended(Result("s2.j0", JobPhase.Failed, "x"), 420)!, 420));
        Assert.Equal("Sweep 's2' is cancelled: resume it first (evolq sweep resume s2).", book.Retry("s2", null, 430).Refused!.Reason);
    }

    [Fact]
    public void Replaying_the_journal_rebuilds_the_same_book()
    {
        var book = Book(2, Sweep("s1", 3, atOnce: 2), Sweep("s2", 2, atOnce: 1));
        var journal = new List<ISweepEvent> { new SweepSubmitted(Sweep("s1", 3, atOnce: 2), 10), new SweepSubmitted(Sweep("s2", 2, atOnce: 1), 10) };
        void Record(ISweepEvent e)
        {
            book.Apply(e);
            journal.Add(e);
        }

        foreach (var e in book.Launches(100))
            Record(e);
        Record(book.Ended(Result("s1.j0", JobPhase.Done), 200)!);
        Record(new SweepCancelled("s2", 210));
        foreach (var e in book.Launches(220))
            Record(e);
        Record(book.Ended(Result("s1.j1", JobPhase.Failed, "boom"), 230)!);
        foreach (var e in book.Retry("s1", "s1.j1", 240).Retries)
            Record(e);

        var replayed = new SweepBook(2);
        foreach (var e in journal)
            replayed.Apply(e);
        foreach (var id in new[] { "s1", "s2" })
        {
            Assert.Equal(book.Summary(id), replayed.Summary(id));
            Assert.Equal(book.Detail(id)!.Jobs.Select(j => (j.JobId, j.Phase, j.Attempt, j.Failures!.Length)), replayed.Detail(id)!.Jobs.Select(j => (j.JobId, j.Phase, j.Attempt, j.Failures!.Length)));
        }
        Assert.Equal(book.Launches(300), replayed.Launches(300));
    }

    [Fact]
    public void The_detail_carries_each_jobs_settings_launch_and_end_and_a_deleted_sweep_is_forgotten_with_its_job_ids()
    {
        var book = Book(0, Sweep("old", 2, atOnce: 2), Sweep("keep", 1, atOnce: 1));
        Assert.Equal(["old.j0", "old.j1", "keep.j0"], Launch(book, now: 150));
        End(book, "old.j0", now: 400);
        End(book, "old.j1", JobPhase.Failed, now: 500);

        var job = book.Detail("old")!.Jobs[0];
        Assert.Equal((150L, 400L), (job.LaunchedAtUnixMs, job.EndedAtUnixMs));
        Assert.Equal(SyntheticJobs.Spec("old.j0").Settings(), job.Settings);
        Assert.Equal("3", job.Settings!["search.cycles"]);
        Assert.Equal("synthetic", job.Settings["model"]);
        Assert.DoesNotContain(job.Settings.Values, v => v.Contains("old.j0", StringComparison.Ordinal));

        book.Apply(new SweepDeleted("old", 600));
        Assert.Null(book.StateOf("old"));
        Assert.Null(book.Detail("old"));
        Assert.Equal(["keep"], book.List(true).Sweeps.Select(s => s.SweepId));
        // Its jobs are neither polled nor repaired any more, and their ids may be submitted again.
        Assert.Equal(["keep.j0"], book.ToPoll());
        Assert.Null(book.Observe("old.j0", JobPhase.Pending));
        Assert.Null(book.RefuseOrRepeat(Sweep("old", 2, atOnce: 1)));
    }
}
