using System.Collections.Immutable;
using System.Reflection;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.SBR;
using EvolQ.Cluster.Configuration;

namespace EvolQ.Deployment.Tests;

/// <summary>
/// What Akka's split-brain resolver decides on a Kubernetes node when a partition cuts the cluster, with the
/// strategy <c>hocon/kubernetes.conf</c> configures: the GPU workers can go, the coordinators stay.
/// </summary>
/// <remarks>
/// Akka.NET 1.5.73 keeps its strategies (KeepMajority, KeepOldest, ...) and <c>Member.Create</c> internal, so they
/// are reached by reflection here; the version is pinned centrally, and a rename fails these tests loudly.
/// </remarks>
public sealed class SplitBrainTests
{
    private const int Coordinators = 2;
    private const int Workers = 8;

    [Fact]
    public void The_kubernetes_profile_decides_by_the_coordinators()
    {
        var settings = new SplitBrainResolverSettings(NodeConfig.Load("kubernetes", _ => null));
        Assert.Equal("keep-majority", settings.DowningStrategy);
        Assert.Equal("coordinator", settings.KeepMajorityRole);
        // The role the resolver counts is the one the coordinator pods run (k8s/base/coordinators.yaml).
        var coordinators = Pods.Nodes(Repo.Render("gpu")).Single(n => n.Component == "coordinator");
        Assert.Equal(settings.KeepMajorityRole, coordinators.Evolq.Env.Single(e => e.Name == "EVOLQ_ROLES").Value);
        Assert.Equal(Coordinators, coordinators.Replicas);
    }

    [Fact]
    public void Losing_most_gpu_workers_downs_the_workers_not_the_coordinators()
    {
        // Six of the eight workers are cut off (a rack of GPU nodes): the coordinators' side has 4 of 10 nodes.
        var lost = Enumerable.Range(0, 6).Select(Worker).ToArray();
        var view = new Partition(Configured(), self: Coordinator(0), unreachable: lost);
        var decision = view.Decide();
        Assert.Equal("DownUnreachable", decision);
        Assert.Equal(lost.Select(a => a.Address).Order(), view.NodesToDown().Order());

        // The workers on the other side come to the matching decision: they see no coordinator, so they go.
        var cutOff = new Partition(Configured(), self: Worker(0),
            unreachable: [Coordinator(0), Coordinator(1), Worker(6), Worker(7)]);
        Assert.Equal("DownReachable", cutOff.Decide());
        Assert.Contains(Worker(0).Address, cutOff.NodesToDown());
    }

    [Fact]
    public void Without_the_role_the_same_partition_would_down_the_coordinators()
    {
        // The reason for the role: keep-majority over all nodes counts the six lost workers against the coordinators.
        var lost = Enumerable.Range(0, 6).Select(Worker).ToArray();
        var view = new Partition(new KeepMajorityStrategy(role: null), self: Coordinator(0), unreachable: lost);
        Assert.Equal("DownReachable", view.Decide());
        Assert.Contains(Coordinator(0).Address, view.NodesToDown());
        Assert.Contains(Coordinator(1).Address, view.NodesToDown());
    }

    [Fact]
    public void Coordinators_split_evenly_keep_the_side_of_the_lowest_address()
    {
        // One coordinator on each side: a tie among coordinators, which the lowest address breaks, on both sides alike.
        var low = new Partition(Configured(), self: Coordinator(0), unreachable: [Coordinator(1), Worker(4), Worker(5), Worker(6), Worker(7)]);
        Assert.Equal("DownUnreachable", low.Decide());
        var high = new Partition(Configured(), self: Coordinator(1), unreachable: [Coordinator(0), .. Enumerable.Range(0, 4).Select(Worker)]);
        Assert.Equal("DownReachable", high.Decide());
    }

    private static KeepMajorityStrategy Configured()
    {
        var settings = new SplitBrainResolverSettings(NodeConfig.Load("kubernetes", _ => null));
        Assert.Equal(SplitBrainResolverSettings.KeepMajorityName, settings.DowningStrategy);
        return new KeepMajorityStrategy(settings.KeepMajorityRole);
    }

    // Coordinator 0 has the lowest address of all: the tie test says which side holds it.
    private static UniqueAddress Coordinator(int i) => new(new Address("akka.tcp", "evolq", $"10.0.0.{i + 1}", 9100), 100 + i);

    private static UniqueAddress Worker(int i) => new(new Address("akka.tcp", "evolq", $"10.0.1.{i + 1}", 9100), 200 + i);

    /// <summary>Akka's internal KeepMajority strategy, built and driven by reflection.</summary>
    private sealed class KeepMajorityStrategy(string? role)
    {
        private static readonly Type Type = typeof(SplitBrainResolverSettings).Assembly.GetType("Akka.Cluster.SBR.KeepMajority", throwOnError: true)!;

        public object Create() => Activator.CreateInstance(Type, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, null, [role], null)!;
    }

    /// <summary>
    /// One node's view of a partitioned cluster of 2 coordinators and 8 workers, all Up, as the resolver's actor
    /// would feed it: every member added, the unreachable ones marked, the reachability records of the observer.
    /// </summary>
    private sealed class Partition
    {
        private const BindingFlags Any = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
        private readonly object strategy;
        private object? decision;

        public Partition(KeepMajorityStrategy kind, UniqueAddress self, IReadOnlyList<UniqueAddress> unreachable)
        {
            strategy = kind.Create();
            var members = Enumerable.Range(0, Coordinators).Select(i => Member(Coordinator(i), "coordinator", i + 1))
                .Concat(Enumerable.Range(0, Workers).Select(i => Member(Worker(i), "worker", Coordinators + i + 1)))
                .ToArray();
            var strategyType = strategy.GetType();
            foreach (var member in members)
                strategyType.GetMethod("Add", Any)!.Invoke(strategy, [member]);
            // Reachability is internal too: the observer's records, one per member it cannot reach.
            var reachabilityType = typeof(Member).Assembly.GetType("Akka.Cluster.Reachability", throwOnError: true)!;
            var reachability = (reachabilityType.GetField("Empty", Any)?.GetValue(null) ?? reachabilityType.GetProperty("Empty", Any)!.GetValue(null))!;
            foreach (var member in members.Where(m => unreachable.Contains(m.UniqueAddress)))
            {
                strategyType.GetMethod("AddUnreachable", Any)!.Invoke(strategy, [member]);
                reachability = reachabilityType.GetMethod("Unreachable", Any, [typeof(UniqueAddress), typeof(UniqueAddress)])!.Invoke(reachability, [self, member.UniqueAddress])!;
            }
            strategyType.GetMethod("SetReachability", Any)!.Invoke(strategy, [reachability]);
            var seen = members.Where(m => !unreachable.Contains(m.UniqueAddress)).Select(m => m.Address).ToImmutableHashSet();
            strategyType.GetMethod("SetSeenBy", Any)!.Invoke(strategy, [seen]);
        }

        /// <summary>The decision's type name: DownUnreachable (this side stays), DownReachable (this side goes), ...</summary>
        public string Decide()
        {
            decision = strategy.GetType().GetMethod("Decide", Any)!.Invoke(strategy, []);
            return decision!.GetType().Name;
        }

        /// <summary>The members the last decision downs.</summary>
        public IReadOnlyList<Address> NodesToDown()
        {
            Assert.NotNull(decision);
            var nodes = (IEnumerable<UniqueAddress>)strategy.GetType().GetMethod("NodesToDown", Any)!.Invoke(strategy, [decision])!;
            return nodes.Select(n => n.Address).ToArray();
        }

        private static Member Member(UniqueAddress address, string role, int upNumber)
        {
            var create = typeof(Member).GetMethods(Any).Single(m => m.Name == "Create" && m.GetParameters().Length == 5);
            return (Member)create.Invoke(null, [address, upNumber, MemberStatus.Up, ImmutableHashSet.Create(role), Akka.Util.AppVersion.Zero])!;
        }
    }
}
