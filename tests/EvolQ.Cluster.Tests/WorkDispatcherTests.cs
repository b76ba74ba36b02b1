using Akka.Actor;
using Akka.Event;
using EvolQ.Cluster.Coordination;
using EvolQ.Cluster.Protocol;
using EvolQ.Engine.Evaluation;
using EvolQ.Search;
using EvolQ.Testing.Cluster;
using EvaluationResult = EvolQ.Cluster.Protocol.EvaluationResult;

namespace EvolQ.Cluster.Tests;

/// <summary>
/// The dispatcher as plain state: no actor system, no timers; the clock is the <c>now</c> each call is given and the
/// workers are references that keep what they are sent.
/// </summary>
public sealed class WorkDispatcherTests
{
    private const string JobId = "job";
    private const string Fp = "fp-1";
    private static readonly DateTime T0 = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly float[][] Scales = [[1f, 2f], [3f, 4f]];

    private static readonly CoordinatorSettings Settings = new()
    {
        RequestTimeout = TimeSpan.FromSeconds(10),
        PrepareTimeout = TimeSpan.FromSeconds(60),
        // Long enough that no worker is dropped for silence unless a test means it.
        WorkerTimeout = TimeSpan.FromHours(1),
        MaxAttempts = 3,
    };

    private static WorkDispatcher Dispatcher(int batches, CoordinatorSettings? settings = null, string? fingerprint = Fp) =>
        new(SyntheticJobs.Spec(JobId), settings ?? Settings, ActorRefs.Nobody, NoLogger.Instance, _ => { })
        {
            Fingerprint = fingerprint,
            BatchCount = batches,
        };

    /// <summary>A worker heard through its heartbeat; with <paramref name="holds"/> it already holds the job so prepared.</summary>
    private static FakeWorker Heard(WorkDispatcher d, string id, DateTime now, string? holds = Fp, string host = "10.0.0.1")
    {
        var worker = new FakeWorker(id, host);
        d.Heard(new WorkerHeartbeat(worker, id, "cpu", 0, holds is null ? [] : [new HeldJob(JobId, holds)], 0), now);
        return worker;
    }

    private static Candidate Candidate(long id) => new(id, 1, 0, 1, 0, 0, [], [0.5f, 0.25f]);

    // Values whose sum depends on the order of addition, so a combination in arrival order would show.
    private static double Loss(int batch) => 0.1 * (batch + 1) + 1.0 / (7 * batch + 3);

    private static EvaluationResult Answer(FakeWorker worker, EvaluationKey key) =>
        new(key, Enumerable.Range(key.FirstBatch, key.BatchCount).Select(Loss).ToArray(), worker.Id, 0.01);

    private static EvaluationRequest TakeOne(FakeWorker worker) => Assert.Single(worker.Take<EvaluationRequest>());

    [Fact]
    public void One_candidate_is_split_over_the_workers_in_contiguous_ranges_and_combines_in_batch_order()
    {
        var d = Dispatcher(batches: 10);
        var workers = new[] { Heard(d, "a", T0), Heard(d, "b", T0), Heard(d, "c", T0) };

        d.StartStep([Candidate(7)], 0, Scales, T0);
        d.Dispatch(T0);

        var requests = workers.Select(TakeOne).ToArray();
        Assert.Equal([(0, 3), (3, 3), (6, 4)], requests.Select(r => (r.Key.FirstBatch, r.Key.BatchCount)));
        Assert.All(requests, r => Assert.Equal(7, r.Key.CandidateId));
        // The heartbeat said nothing of the state version the workers hold, so each request carries the scales.
        Assert.All(requests, r => Assert.Same(Scales, r.CurrentScales));
        Assert.Equal(3, d.InFlight);

        // Answers arrive out of order; only the last one completes the candidate.
        Assert.Null(d.OnResult(Answer(workers[2], requests[2].Key), workers[2], T0));
        Assert.Null(d.OnResult(Answer(workers[0], requests[0].Key), workers[0], T0));
        var done = d.OnResult(Answer(workers[1], requests[1].Key), workers[1], T0);

        var inBatchOrder = Enumerable.Range(0, 10).Select(Loss).ToArray();
        var inArrivalOrder = new[] { 6, 7, 8, 9, 0, 1, 2, 3, 4, 5 }.Select(Loss).Aggregate(0.0, (sum, x) => sum + x) / 10;
        // The test can tell the orders apart only if they give different bits.
        Assert.NotEqual(BitConverter.DoubleToInt64Bits(LossCombiner.Combine(inBatchOrder)), BitConverter.DoubleToInt64Bits(inArrivalOrder));
        Assert.NotNull(done);
        Assert.Equal(7, done.Value.CandidateId);
        Assert.Equal(BitConverter.DoubleToInt64Bits(LossCombiner.Combine(inBatchOrder)), BitConverter.DoubleToInt64Bits(done.Value.Loss));
        Assert.Equal(0, d.Duplicates);
    }

    [Fact]
    public void Pieces_beyond_the_free_workers_wait_and_a_worker_that_holds_the_state_gets_no_scales_again()
    {
        var d = Dispatcher(batches: 10);
        var a = Heard(d, "a", T0);
        var b = Heard(d, "b", T0);
        var c = Heard(d, "c", T0);

        // Three workers for two candidates: each candidate in thirds, six pieces for three workers (two rounds).
        d.StartStep([Candidate(1), Candidate(2)], 0, Scales, T0);
        d.Dispatch(T0);
        var first = new[] { TakeOne(a), TakeOne(b), TakeOne(c) };
        Assert.Equal([(1L, 0, 3), (1L, 3, 3), (1L, 6, 4)], first.Select(r => (r.Key.CandidateId, r.Key.FirstBatch, r.Key.BatchCount)));
        Assert.Equal(20, d.Wanted);

        Assert.Null(d.OnResult(Answer(a, first[0].Key), a, T0));
        d.Dispatch(T0);
        var next = TakeOne(a);
        Assert.Equal((2L, 0, 3), (next.Key.CandidateId, next.Key.FirstBatch, next.Key.BatchCount));
        Assert.Null(next.CurrentScales);
        Assert.Empty(b.Inbox);
        Assert.Empty(c.Inbox);
    }

    [Fact]
    public void Candidates_that_outnumber_the_workers_are_split_only_where_the_step_ends_sooner()
    {
        var d = Dispatcher(batches: 10);
        var a = Heard(d, "a", T0);
        var b = Heard(d, "b", T0);

        // Four on two workers: two rounds of whole candidates, nothing to gain by cutting them.
        d.StartStep([Candidate(1), Candidate(2), Candidate(3), Candidate(4)], 0, Scales, T0);
        d.Dispatch(T0);
        Assert.Equal([(1L, 0, 10), (2L, 0, 10)], new[] { TakeOne(a), TakeOne(b) }.Select(r => (r.Key.CandidateId, r.Key.FirstBatch, r.Key.BatchCount)));
        Assert.Equal(2, d.InFlight);

        // Three on two: whole candidates would leave one worker idle for the third's 10 batches; halves end in 15.
        var e = Dispatcher(batches: 10);
        var c = Heard(e, "c", T0);
        var f = Heard(e, "f", T0);
        e.StartStep([Candidate(1), Candidate(2), Candidate(3)], 0, Scales, T0);
        e.Dispatch(T0);
        Assert.Equal([(1L, 0, 5), (1L, 5, 5)], new[] { TakeOne(c), TakeOne(f) }.Select(r => (r.Key.CandidateId, r.Key.FirstBatch, r.Key.BatchCount)));
    }

    [Fact]
    public void A_heartbeat_asks_for_a_dispatch_only_when_it_brings_a_worker_or_finds_one_holding_the_job()
    {
        var d = Dispatcher(batches: 10);
        var a = new FakeWorker("a", "10.0.0.1");
        WorkerHeartbeat Beat(bool holds) => new(a, "a", "cpu", 0, holds ? [new HeldJob(JobId, Fp)] : [], 0);

        Assert.True(d.Heard(Beat(holds: false), T0)); // a new worker
        Assert.False(d.Heard(Beat(holds: false), T0)); // the same, again
        Assert.True(d.Heard(Beat(holds: true), T0)); // now it holds the job: it can serve at once
        Assert.False(d.Heard(Beat(holds: true), T0));
        Assert.Equal(1, d.UsableWorkers);
    }

    [Theory]
    [InlineData(1, 1, 10, 1)] // one worker: never cut
    [InlineData(4, 1, 10, 1)]
    [InlineData(4, 2, 10, 1)] // an even share of whole candidates
    [InlineData(1, 3, 10, 3)] // one candidate over three workers: 3 + 3 + 4 batches
    [InlineData(4, 3, 10, 2)] // halves: 3 rounds of 5 (15) instead of 2 rounds of 10 (20)
    [InlineData(4, 64, 10, 10)] // more workers than batches: one batch a piece
    [InlineData(4, 16, 10, 4)]
    [InlineData(8, 3, 1, 1)] // a single batch cannot be cut
    public void A_step_is_cut_so_its_workers_finish_it_together(int candidates, int workers, int batches, int expected) =>
        Assert.Equal(expected, WorkDispatcher.PiecesPerCandidate(candidates, workers, batches));

    [Fact]
    public void A_piece_past_its_deadline_goes_to_another_worker_and_the_job_fails_after_the_last_attempt()
    {
        var d = Dispatcher(batches: 1);
        var workers = new[] { "a", "b", "c", "d" }.Select(id => Heard(d, id, T0)).ToArray();
        d.StartStep([Candidate(1)], 0, Scales, T0);
        d.Dispatch(T0);
        Assert.Single(workers[0].Take<EvaluationRequest>());

        d.Tick(T0 + TimeSpan.FromSeconds(9.999));
        d.Dispatch(T0 + TimeSpan.FromSeconds(9.999));
        Assert.All(workers, w => Assert.Empty(w.Inbox));

        // Attempts 1 and 2 time out: each time the piece moves on to a worker that has not timed out.
        for (var attempt = 1; attempt < Settings.MaxAttempts; attempt++)
        {
            var now = T0 + TimeSpan.FromSeconds(10 * attempt);
            d.Tick(now);
            Assert.Null(d.Fatal);
            Assert.Equal(attempt, d.Redispatches);
            d.Dispatch(now);
            Assert.Single(workers[attempt].Take<EvaluationRequest>());
            Assert.All(workers.Where((_, i) => i != attempt), w => Assert.Empty(w.Inbox));
        }

        // The last attempt times out: the job cannot go on, and nothing more is sent although a worker is free.
        var last = T0 + TimeSpan.FromSeconds(10 * Settings.MaxAttempts);
        d.Tick(last);
        Assert.Equal("Candidate 1 timed out 3 times.", d.Fatal);
        d.Dispatch(last);
        Assert.Empty(workers[3].Inbox);
    }

    [Fact]
    public void A_late_answer_after_a_redispatch_completes_the_candidate_once_and_clears_the_suspicion()
    {
        var d = Dispatcher(batches: 1);
        var a = Heard(d, "a", T0);
        var b = Heard(d, "b", T0);
        d.StartStep([Candidate(1)], 0, Scales, T0);
        d.Dispatch(T0);
        var toA = TakeOne(a);
        d.Tick(T0 + Settings.RequestTimeout);
        d.Dispatch(T0 + Settings.RequestTimeout);
        var toB = TakeOne(b);
        Assert.Equal(toA.Key, toB.Key);
        Assert.Equal(1, d.UsableWorkers);

        var done = d.OnResult(Answer(a, toA.Key), a, T0 + TimeSpan.FromSeconds(11));
        Assert.Equal(1, done?.CandidateId);
        Assert.Null(d.OnResult(Answer(b, toB.Key), b, T0 + TimeSpan.FromSeconds(12)));
        Assert.Equal(1, d.Duplicates);
        Assert.Equal(1, d.Redispatches);

        // a answered, so it is trusted again; b's piece was done elsewhere, so b is free.
        Assert.Equal(2, d.UsableWorkers);
        d.StartStep([Candidate(2), Candidate(3)], 1, Scales, T0 + TimeSpan.FromSeconds(12));
        d.Dispatch(T0 + TimeSpan.FromSeconds(12));
        Assert.Equal(2L, TakeOne(a).Key.CandidateId);
        Assert.Equal(3L, TakeOne(b).Key.CandidateId);
    }

    [Fact]
    public void Results_for_an_older_state_another_job_a_told_candidate_or_the_wrong_batches_change_nothing()
    {
        var d = Dispatcher(batches: 2);
        var a = Heard(d, "a", T0);
        d.StartStep([Candidate(1)], 0, Scales, T0);
        d.Dispatch(T0);
        var key = TakeOne(a).Key;

        // One loss for two batches: ignored, the piece still waits.
        Assert.Null(d.OnResult(new EvaluationResult(key, [0.5], "a", 0), a, T0));
        Assert.Equal(1, d.OnResult(Answer(a, key), a, T0)?.CandidateId);
        Assert.Equal(0, d.Duplicates);

        Assert.Null(d.OnResult(Answer(a, key), a, T0));
        Assert.Equal(1, d.Duplicates);

        d.StartStep([Candidate(2)], 1, Scales, T0);
        d.Dispatch(T0);
        var current = TakeOne(a).Key;
        Assert.Null(d.OnResult(Answer(a, key), a, T0));
        Assert.Null(d.OnResult(Answer(a, current with { StateVersion = 0 }), a, T0));
        Assert.Null(d.OnResult(Answer(a, current with { JobId = "another-job" }), a, T0));
        Assert.Equal(4, d.Duplicates);

        Assert.Equal(2, d.OnResult(Answer(a, current), a, T0)?.CandidateId);
    }

    [Fact]
    public void A_worker_prepared_with_another_fingerprint_is_never_used_and_is_reported_unusable()
    {
        var d = Dispatcher(batches: 2);
        var a = Heard(d, "a", T0);
        // It holds the job, but as another calibration: the heartbeat does not make it ready.
        var x = Heard(d, "x", T0, holds: "fp-other");
        Assert.Equal(1, d.UsableWorkers);

        d.StartStep([Candidate(1), Candidate(2)], 0, Scales, T0);
        d.Dispatch(T0);
        var toA = TakeOne(a);
        Assert.Single(x.Take<PrepareJob>());

        Assert.False(d.OnPrepared(new JobPrepared(JobId, "x", ["b0", "b1"], Scales, 2, "fp-other"), x, T0));
        Assert.Equal(["x"], d.Unusable);
        d.Dispatch(T0);
        Assert.Empty(x.Inbox);

        d.OnResult(Answer(a, toA.Key), a, T0);
        d.Dispatch(T0);
        Assert.Equal(2L, TakeOne(a).Key.CandidateId);
        Assert.Empty(x.Inbox);
    }

    [Fact]
    public void Before_the_first_grant_no_worker_is_used_then_only_granted_ones_until_the_grant_lapses()
    {
        var settings = Settings with { Allocation = new AllocatorSettings { GrantTimeout = TimeSpan.FromSeconds(8) } };
        var d = Dispatcher(batches: 1, settings);
        d.AwaitGrant(T0 + TimeSpan.FromSeconds(8));
        var a = Heard(d, "a", T0);
        var b = Heard(d, "b", T0);
        d.StartStep([Candidate(1), Candidate(2)], 0, Scales, T0);

        d.Dispatch(T0 + TimeSpan.FromSeconds(1));
        Assert.Empty(a.Inbox);
        Assert.Empty(b.Inbox);

        var grantedAt = T0 + TimeSpan.FromSeconds(2);
        d.Granted(new WorkerGrant(JobId, [b], ["b"]), grantedAt);
        d.Dispatch(grantedAt);
        Assert.Equal(1L, TakeOne(b).Key.CandidateId);
        Assert.Equal(1, d.GrantedCount);

        d.Dispatch(grantedAt + TimeSpan.FromSeconds(8));
        Assert.Empty(a.Inbox);

        // No renewal for longer than the grant time-out: the allocator is presumed gone and every worker serves.
        d.Dispatch(grantedAt + TimeSpan.FromSeconds(8.001));
        Assert.Equal(2L, TakeOne(a).Key.CandidateId);
    }

    [Fact]
    public void Without_any_grant_the_job_uses_every_worker_once_the_wait_is_over()
    {
        var settings = Settings with { Allocation = new AllocatorSettings { GrantTimeout = TimeSpan.FromSeconds(8) } };
        var d = Dispatcher(batches: 1, settings);
        d.AwaitGrant(T0 + TimeSpan.FromSeconds(8));
        var a = Heard(d, "a", T0);
        d.StartStep([Candidate(1)], 0, Scales, T0);

        d.Dispatch(T0 + TimeSpan.FromSeconds(7.999));
        Assert.Empty(a.Inbox);
        d.Dispatch(T0 + TimeSpan.FromSeconds(8));
        Assert.Single(a.Take<EvaluationRequest>());
    }

    [Fact]
    public void Failed_evaluations_count_as_attempts_but_lost_state_or_a_lost_job_do_not()
    {
        var d = Dispatcher(batches: 1);
        var a = Heard(d, "a", T0);
        var b = Heard(d, "b", T0);
        d.StartStep([Candidate(1)], 0, Scales, T0);
        d.Dispatch(T0);
        var key = TakeOne(a).Key;

        // a lost the state version it was sent: the same piece goes to it again, with the scales.
        d.OnRejected(new EvaluationRejected(key, "a", RejectionReason.StateUnknown, "no state"), a, T0);
        d.Dispatch(T0);
        Assert.Same(Scales, TakeOne(a).CurrentScales);

        // a lost the job: it would have to prepare again, so b gets the piece.
        d.OnRejected(new EvaluationRejected(key, "a", RejectionReason.JobUnknown, "no job"), a, T0);
        d.Dispatch(T0);
        Assert.Equal(key, TakeOne(b).Key);
        Assert.Empty(a.Inbox);

        for (var attempt = 1; attempt <= Settings.MaxAttempts; attempt++)
        {
            Assert.Null(d.Fatal);
            d.OnRejected(new EvaluationRejected(key, "b", RejectionReason.Failed, $"boom {attempt}"), b, T0);
            d.Dispatch(T0);
            if (attempt < Settings.MaxAttempts)
                Assert.Equal(key, TakeOne(b).Key);
        }
        Assert.Equal("Candidate 1 failed 3 times; the last error: boom 3", d.Fatal);
        Assert.Empty(b.Inbox);
        Assert.Equal(5, d.Redispatches);
    }

    [Fact]
    public void A_silent_worker_is_dropped_and_its_piece_goes_elsewhere_without_costing_an_attempt()
    {
        var settings = Settings with { WorkerTimeout = TimeSpan.FromSeconds(30), RequestTimeout = TimeSpan.FromHours(1), MaxAttempts = 1 };
        var d = Dispatcher(batches: 1, settings);
        var a = Heard(d, "a", T0);
        var b = Heard(d, "b", T0, host: "10.0.0.2");
        d.StartStep([Candidate(1)], 0, Scales, T0);
        d.Dispatch(T0);
        var key = TakeOne(a).Key;

        Heard(d, "b", T0 + TimeSpan.FromSeconds(20), host: "10.0.0.2");
        d.Tick(T0 + TimeSpan.FromSeconds(30));
        Assert.Equal(2, d.WorkerRefs.Count());
        d.Tick(T0 + TimeSpan.FromSeconds(31));
        Assert.Same(b, Assert.Single(d.WorkerRefs));
        d.Dispatch(T0 + TimeSpan.FromSeconds(31));
        Assert.Equal(key, TakeOne(b).Key);

        // b's node leaves: its piece waits for the next worker, still without counting as an attempt.
        d.RemoveAt(b.Path.Address, "its node left");
        Assert.Empty(d.WorkerRefs);
        Assert.Equal(2, d.Redispatches);
        Assert.Null(d.Fatal);
        var c = Heard(d, "c", T0 + TimeSpan.FromSeconds(32));
        d.Dispatch(T0 + TimeSpan.FromSeconds(32));
        Assert.Equal(key, TakeOne(c).Key);
    }

    [Fact]
    public void Calibration_prepares_one_worker_at_a_time_and_gives_up_after_the_last_attempt()
    {
        var d = Dispatcher(batches: 0, fingerprint: null);
        var workers = new[] { "c", "a", "d", "b" }.ToDictionary(id => id, id => Heard(d, id, T0, holds: null));
        Assert.Equal(1, d.Wanted);

        foreach (var (id, failure) in new[] { ("a", 1), ("b", 2), ("c", 3) })
        {
            d.Dispatch(T0);
            d.Dispatch(T0);
            Assert.Single(workers[id].Take<PrepareJob>());
            Assert.All(workers.Values, w => Assert.Empty(w.Inbox));
            Assert.Null(d.Fatal);
            d.OnPrepareFailed(new PrepareFailed(JobId, id, $"no memory {failure}"), workers[id], T0);
        }
        Assert.Equal("no memory 3", d.Fatal);
        d.Dispatch(T0);
        Assert.Empty(workers["d"].Inbox);
    }

    [Fact]
    public void A_calibration_that_runs_past_its_deadline_is_given_to_the_next_worker()
    {
        var d = Dispatcher(batches: 0, fingerprint: null);
        var a = Heard(d, "a", T0, holds: null);
        var b = Heard(d, "b", T0, holds: null);
        d.Dispatch(T0);
        Assert.Single(a.Take<PrepareJob>());

        d.Tick(T0 + TimeSpan.FromSeconds(59));
        d.Dispatch(T0 + TimeSpan.FromSeconds(59));
        Assert.Empty(b.Inbox);

        d.Tick(T0 + Settings.PrepareTimeout);
        d.Dispatch(T0 + Settings.PrepareTimeout);
        Assert.Single(b.Take<PrepareJob>());
        Assert.Empty(a.Inbox);

        // b fails and a, which timed out, is not trusted again until it answers: nobody is left to prepare the job,
        // so it fails before its attempts run out.
        d.OnPrepareFailed(new PrepareFailed(JobId, "b", "bad checkpoint"), b, T0 + Settings.PrepareTimeout);
        Assert.Equal("bad checkpoint", d.Fatal);
    }

    [Fact]
    public void The_final_evaluation_runs_on_one_worker_and_fails_the_job_after_the_last_attempt()
    {
        var d = Dispatcher(batches: 2);
        var a = Heard(d, "a", T0);
        var b = Heard(d, "b", T0);
        var c = Heard(d, "c", T0);
        d.StartStep([Candidate(1)], 0, Scales, T0);
        d.StartFinal(Scales);
        Assert.Equal(1, d.Wanted);
        d.Dispatch(T0);
        Assert.Same(Scales, Assert.Single(a.Take<FinalEvaluationRequest>()).Scales);
        Assert.Empty(b.Inbox);
        Assert.Empty(c.Inbox);
        Assert.Equal(1, d.InFlight);

        d.Tick(T0 + Settings.RequestTimeout);
        d.Dispatch(T0 + Settings.RequestTimeout);
        Assert.Single(b.Take<FinalEvaluationRequest>());

        // b lost the job: not an attempt; c gets it.
        d.OnFinalFailed(new FinalEvaluationFailed(JobId, "b", RejectionReason.JobUnknown, "no job"), b, T0);
        d.Dispatch(T0 + Settings.RequestTimeout);
        Assert.Single(c.Take<FinalEvaluationRequest>());

        d.OnFinalFailed(new FinalEvaluationFailed(JobId, "c", RejectionReason.Failed, "out of memory"), c, T0);
        Assert.Null(d.Fatal);
        d.Dispatch(T0 + Settings.RequestTimeout);
        Assert.Single(c.Take<FinalEvaluationRequest>());
        d.OnFinalFailed(new FinalEvaluationFailed(JobId, "c", RejectionReason.Failed, "out of memory"), c, T0);
        Assert.Equal("The final evaluation failed 3 times; the last error: out of memory", d.Fatal);
    }

    [Fact]
    public void The_final_result_is_taken_once()
    {
        var d = Dispatcher(batches: 2);
        var a = Heard(d, "a", T0);
        d.StartFinal(Scales);
        d.Dispatch(T0);
        Assert.Single(a.Take<FinalEvaluationRequest>());

        var result = new FinalEvaluationResult(JobId, "a", new JobMetrics(null, EvolQ: new TopAccuracy(0.9, null)));
        Assert.True(d.OnFinalResult(result, a, T0));
        Assert.False(d.OnFinalResult(result, a, T0));
        d.Dispatch(T0);
        Assert.Empty(a.Inbox);
        Assert.Equal(0, d.InFlight);
    }
}
