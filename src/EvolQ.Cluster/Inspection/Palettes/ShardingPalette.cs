using Akka.Actor;
using Akka.Cluster.Sharding;

namespace EvolQ.Cluster.Inspection.Palettes;

/// <summary>`cluster-sharding`: the shard regions of this node and how shards and entities are spread.</summary>
public sealed class ShardingPalette(InspectionContext context) : Palette("cluster-sharding", "Shard regions, shards and entities.")
{
    [Command("regions", "The entity types with a shard region (or proxy) on this node.")]
    public Task Regions(CommandCall call)
    {
        var sharding = ClusterSharding.Get(context.System);
        var rows = sharding.ShardTypeNames.Order(StringComparer.Ordinal)
            .Select(t => (IReadOnlyList<string>)[t, sharding.ShardRegion(t).Path.ToStringWithoutAddress()]);
        return call.Output.Table("", ["type", "region"], rows);
    }

    [Command("region-stats", "The shards of this node's region of a type, with their entity counts.")]
    [Argument("type", "the entity type (see regions)")]
    public async Task RegionStats(CommandCall call)
    {
        var region = Region(call.Required("type"));
        var stats = await region.Ask<ShardRegionStats>(GetShardRegionStats.Instance, context.Settings.AskTimeout, call.Cancellation).ConfigureAwait(false);
        var rows = stats.Stats.OrderBy(s => s.Key, StringComparer.Ordinal)
            .Select(s => (IReadOnlyList<string>)[s.Key, Cells.Int(s.Value)]);
        await call.Output.Table($"{call.Required("type")} on {Akka.Cluster.Cluster.Get(context.System).SelfAddress}", ["shard", "entities"], rows).ConfigureAwait(false);
        if (stats.Failed.Count > 0)
            await call.Output.Text($"Shards that did not answer: {string.Join(", ", stats.Failed.Order(StringComparer.Ordinal))}.").ConfigureAwait(false);
    }

    [Command("shard-stats", "Every region of a type in the cluster, with its shards and entities.")]
    [Argument("type", "the entity type (see regions)")]
    public async Task ShardStats(CommandCall call)
    {
        var region = Region(call.Required("type"));
        var stats = await region.Ask<ClusterShardingStats>(new GetClusterShardingStats(context.Settings.AskTimeout), context.Settings.AskTimeout + TimeSpan.FromSeconds(1), call.Cancellation).ConfigureAwait(false);
        var rows = stats.Regions.OrderBy(r => r.Key.ToString(), StringComparer.Ordinal)
            .Select(r => (IReadOnlyList<string>)[r.Key.ToString(), Cells.Int(r.Value.Stats.Count), Cells.Int(r.Value.Stats.Values.Sum())]);
        await call.Output.Table(call.Required("type"), ["region", "shards", "entities"], rows).ConfigureAwait(false);
    }

    private IActorRef Region(string type)
    {
        var sharding = ClusterSharding.Get(context.System);
        if (!sharding.ShardTypeNames.Contains(type))
            throw new CommandFailedException($"This node has no shard region of type '{type}': see 'cluster-sharding regions'.");
        return sharding.ShardRegion(type);
    }
}
