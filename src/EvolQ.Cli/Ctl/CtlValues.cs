using EvolQ.Cluster.Ctl.Palettes;
using EvolQ.Cluster.Ctl.Wire;

namespace EvolQ.Cli.Ctl;

/// <summary>
/// The values Tab completes (job ids, sweep ids, member addresses, roles, shard types), read from the node with the
/// commands a user would type (`evolq jobs`, `cluster show`, ...) and kept for a few seconds, so that repeated Tabs
/// do not ask again.
/// </summary>
public sealed class CtlValues(CtlClient client)
{
    /// <summary>How long a kind's values are reused.</summary>
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(5);

    /// <summary>How long completion waits for the node; a slow node completes nothing rather than freezing the prompt.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(2);

    private readonly Dictionary<string, (DateTime At, IReadOnlyList<string> Values)> cache = new(StringComparer.Ordinal);

    /// <summary>The command that lists a kind, the column that holds the values, and how a cell splits into values.</summary>
    private static readonly Dictionary<string, (string[] Words, string Column, bool List)> Sources = new(StringComparer.Ordinal)
    {
        [ValueKinds.Job] = (["evolq", "jobs"], "job", false),
        [ValueKinds.Sweep] = (["evolq", "sweeps", "--all"], "sweep", false),
        [ValueKinds.Address] = (["cluster", "show"], "address", false),
        [ValueKinds.Role] = (["cluster", "show"], "roles", true),
        [ValueKinds.ShardType] = (["cluster-sharding", "regions"], "type", false),
    };

    /// <summary>The values of a kind, sorted; empty when the node does not answer in time or knows none.</summary>
    public IReadOnlyList<string> Get(string kind)
    {
        ArgumentNullException.ThrowIfNull(kind);
        if (cache.TryGetValue(kind, out var cached) && DateTime.UtcNow - cached.At < Fresh)
            return cached.Values;
        if (!Sources.TryGetValue(kind, out var source))
            return [];
        var found = new SortedSet<string>(StringComparer.Ordinal);
        using var patience = new CancellationTokenSource(Patience);
        try
        {
            var end = client.RunAsync(source.Words, null, frame =>
            {
                if (frame is TableFrame table && table.Columns.ToList().IndexOf(source.Column) is var at and >= 0)
                {
                    foreach (var row in table.Rows.Where(r => at < r.Count))
                        found.UnionWith(source.List ? row[at].Split(',', StringSplitOptions.RemoveEmptyEntries) : [row[at]]);
                }
                return Task.CompletedTask;
            }, patience.Token).GetAwaiter().GetResult();
            if (end.Status != EndStatus.Ok)
                found.Clear();
        }
        catch (Exception e) when (e is OperationCanceledException or CtlClientException or IOException)
        {
            // Completion is a convenience: a node that is slow or gone completes nothing, and the next command says why.
            return [];
        }
        var values = found.ToArray();
        cache[kind] = (DateTime.UtcNow, values);
        return values;
    }
}
