using EvolQ.Cluster.Persistence;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Sweeps;

namespace EvolQ.Web.Dashboard;

/// <summary>
/// The dashboard of a results database with no cluster (`evolq dashboard --db FILE`): what the sweep manager's
/// projection recorded, read on each poll, so a run writing to the same database shows up as it goes. Read-only.
/// </summary>
/// <param name="name">How the pages name the database (a SQLite file's path); its redacted connection string when null.</param>
public sealed class DatabaseDashboardSource(ResultsDatabase database, string? name = null) : IDashboardSource
{
    public bool CanAct => false;

    public string Describe => $"{name ?? database.Database.Redacted}, read-only";

    public Task<IReadOnlyList<SweepSummary>> Sweeps(CancellationToken cancellationToken) => Task.FromResult(database.ListSweeps());

    public Task<SweepDetail?> Sweep(string sweepId, CancellationToken cancellationToken)
    {
        try
        {
            return Task.FromResult<SweepDetail?>(database.ReadSweep(sweepId));
        }
        catch (ResultsDatabaseException) when (database.ListSweeps().All(s => s.SweepId != sweepId))
        {
            return Task.FromResult<SweepDetail?>(null);
        }
    }

    public async Task<SweepBoard?> Board(string sweepId, CancellationToken cancellationToken) =>
        await Sweep(sweepId, cancellationToken) is { } detail ? SweepProgress.Board(detail, new Dictionary<string, JobStatus>(), new Dictionary<string, double>()) : null;

    public async Task<JobView?> Job(string jobId, CancellationToken cancellationToken)
    {
        foreach (var summary in (await Sweeps(cancellationToken)).Where(s => jobId.StartsWith(s.SweepId + ".", StringComparison.Ordinal)))
        {
            if (await Sweep(summary.SweepId, cancellationToken) is { } detail && detail.Jobs.FirstOrDefault(j => j.JobId == jobId) is { } recorded)
                return new JobView(summary.SweepId, recorded, detail.Source, null, null);
        }
        return null;
    }

    // The files are wherever the run's workers wrote them; the page says how to write one again from the tables.
    public string? ModelFile(string sweepId, string jobId) => null;

    public Task<ClusterView?> Cluster(CancellationToken cancellationToken) => Task.FromResult<ClusterView?>(null);

    public Task<(bool Ok, string Message)> Act(string sweepId, SweepAction action, string? jobId, CancellationToken cancellationToken) =>
        Task.FromResult((false, "This dashboard reads a results database and changes nothing: cancel, resume and retry on a node."));
}
