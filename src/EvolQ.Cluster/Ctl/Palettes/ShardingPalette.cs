using Akka.Actor;
using Akka.Cluster.Sharding;

namespace EvolQ.Cluster.Ctl.Palettes;

/// <summary>`cluster-sharding`: the shard regions of this node and how shards and entities are spread.</summary>
public sealed class ShardingPalette(CtlContext context) : Palette("cluster-sharding", "Shard regions, shards and entities.")
{
    [Command("regions", "The entity types with a shard region (or proxy) on this node.")]
    public Task Regions(CommandCall call)
    {
        var sharding = ClusterSharding.Get(context.System);
        var rows = sharding.ShardTypeNames.Order(StringComparer.Ordinal)
            .Select(t => (IReadOnlyList<string>)[t, sharding.ShardRegion(t).Path.ToStringWithoutAddress()]);
        return call.Output.Table("", ["type", "region"], rows);
    }

    // pbm's meanings: region-stats is the cluster-wide view (every region, its shards and entity counts);
    // shard-stats lists the entity ids of the shards.
    [Command("region-stats", "Every region of a type in the cluster: each node's shards with their entity counts.")]
    [Argument("type", "the entity type (see regions)", Short = "r", Values = ValueKinds.ShardType)]
    public async Task RegionStats(CommandCall call)
    {
        var type = call.Required("type");
        var stats = await ClusterStats(type, call.Cancellation).ConfigureAwait(false);
        var rows = new List<IReadOnlyList<string>>();
        foreach (var (address, region) in stats.Regions.OrderBy(r => r.Key.ToString(), StringComparer.Ordinal))
        {
            if (region.Stats.Count == 0)
                rows.Add([address.ToString(), "-", "0"]);
            rows.AddRange(region.Stats.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => (IReadOnlyList<string>)[address.ToString(), s.Key, Cells.Int(s.Value)]));
        }
        await call.Output.Table(type, ["region", "shard", "entities"], rows).ConfigureAwait(false);
        await call.Output.Text(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{stats.Regions.Count} region(s), {stats.Regions.Values.Sum(r => r.Stats.Count)} shard(s), {stats.Regions.Values.Sum(r => r.Stats.Values.Sum())} entity(ies).")).ConfigureAwait(false);
    }

    [Command("shard-stats", "The entity ids of a type's shards (one shard with -s), wherever in the cluster they live.")]
    [Argument("type", "the entity type (see regions)", Short = "r", Values = ValueKinds.ShardType)]
    [Argument("shard", "one shard id (see region-stats); every shard when left out", Optional = true, Short = "s")]
    public async Task ShardStats(CommandCall call)
    {
        var type = call.Required("type");
        var shard = call.Get("shard");
        var stats = await ClusterStats(type, call.Cancellation).ConfigureAwait(false);
        var hosts = stats.Regions.Where(r => shard is null || r.Value.Stats.ContainsKey(shard))
            .OrderBy(r => r.Key.ToString(), StringComparer.Ordinal).Select(r => r.Key).ToArray();
        if (shard is not null && hosts.Length == 0)
            throw new CommandFailedException($"No region of type '{type}' hosts a shard '{shard}': see 'cluster-sharding region-stats -r {type}'.");
        var rows = new List<IReadOnlyList<string>>();
        foreach (var address in hosts)
        {
            var state = await RegionState(type, address, call.Cancellation).ConfigureAwait(false);
            rows.AddRange(state.Shards
                .Where(s => shard is null || s.ShardId == shard)
                .SelectMany(s => s.EntityIds.Select(e => (s.ShardId, Entity: e)))
                .OrderBy(s => s.ShardId, StringComparer.Ordinal).ThenBy(s => s.Entity, StringComparer.Ordinal)
                .Select(s => (IReadOnlyList<string>)[s.ShardId, s.Entity, address.ToString()]));
        }
        await call.Output.Table(shard is null ? type : $"{type} shard {shard}", ["shard", "entity", "region"], rows).ConfigureAwait(false);
    }

    private async Task<ClusterShardingStats> ClusterStats(string type, CancellationToken cancellation)
    {
        var region = Region(type);
        var timeout = context.Settings.AskTimeout;
        return await region.Ask<ClusterShardingStats>(new GetClusterShardingStats(timeout), timeout + TimeSpan.FromSeconds(1), cancellation).ConfigureAwait(false);
    }

    /// <summary>The shards and entity ids of the region of <paramref name="type"/> at <paramref name="address"/>.</summary>
    private async Task<CurrentShardRegionState> RegionState(string type, Address address, CancellationToken cancellation)
    {
        var local = Akka.Cluster.Cluster.Get(context.System).SelfAddress;
        var timeout = context.Settings.AskTimeout;
        try
        {
            if (address.Equals(local))
                return await Region(type).Ask<CurrentShardRegionState>(GetShardRegionState.Instance, timeout, cancellation).ConfigureAwait(false);
            // Cluster sharding names a region's actor after its type under /system/sharding, on every node (this
            // node may have only a proxy, which is named otherwise).
            var path = new RootActorPath(address) / "system" / "sharding" / Uri.EscapeDataString(type);
            return await context.System.ActorSelection(path).Ask<CurrentShardRegionState>(GetShardRegionState.Instance, timeout, cancellation).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            throw new CommandFailedException($"The region of '{type}' at {address} did not answer within {timeout.TotalSeconds:0.#} s.");
        }
    }

    private IActorRef Region(string type)
    {
        var sharding = ClusterSharding.Get(context.System);
        if (!sharding.ShardTypeNames.Contains(type))
            throw new CommandFailedException($"This node has no shard region of type '{type}': see 'cluster-sharding regions'.");
        return sharding.ShardRegion(type);
    }
}
