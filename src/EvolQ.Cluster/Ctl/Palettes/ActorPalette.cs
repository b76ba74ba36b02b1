using System.Text;
using Akka.Actor;

namespace EvolQ.Cluster.Ctl.Palettes;

/// <summary>`actor`: the actor system's facts and its tree of actors.</summary>
public sealed class ActorPalette(CtlContext context) : Palette("actor", "The actor system and its actors.")
{
    [Command("system", "The actor system: name, address, Akka version, start time and uptime, log level, loggers.")]
    public Task SystemInfo(CommandCall call)
    {
        var system = context.System;
        var settings = system.Settings;
        return call.Output.Table("", ["property", "value"],
        [
            ["name", system.Name],
            ["address", Akka.Cluster.Cluster.Get(system).SelfAddress.ToString()],
            ["akka", typeof(ActorSystem).Assembly.GetName().Version?.ToString(3) ?? "?"],
            ["started", Cells.Time(DateTimeOffset.FromUnixTimeMilliseconds((long)system.StartTime.TotalMilliseconds).UtcDateTime)],
            ["uptime", Cells.Duration(system.Uptime)],
            ["log level", settings.LogLevel],
            ["loggers", string.Join(", ", settings.Loggers.Select(l => l.Split(',')[0].Split('.')[^1]))],
        ]);
    }

    [Command("hierarchy", "The actors under a path (/user, /system or /), indented by depth; a full path (akka.tcp://evolq@host:port/user) walks another node.")]
    [Argument("path", "where to start: a path on this node, or a full actor path on another node", Optional = true, Short = "s", Values = ValueKinds.Address)]
    [Option("depth", "how many levels below the path", Default = "8", Short = "d")]
    public async Task Hierarchy(CommandCall call)
    {
        var path = call.Get("path") ?? "/user";
        var depth = call.PositiveInt("depth");
        var system = (ExtendedActorSystem)context.System;
        if (path.Contains("://", StringComparison.Ordinal))
        {
            if (!ActorPath.TryParse(path, out var full))
                throw new CommandUsageException($"'{path}' is not an actor path (akka.tcp://evolq@host:port/user).");
            if (!full.Address.Equals(system.Provider.DefaultAddress))
            {
                await call.Output.Text(await RemoteHierarchy(full, depth, call.Cancellation).ConfigureAwait(false)).ConfigureAwait(false);
                return;
            }
            // This node's own address: walk its tree directly.
            path = "/" + string.Join('/', full.Elements);
        }
        IActorRef root = system.Provider.RootGuardian;
        var names = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var name in names)
        {
            root = (root as ActorRefWithCell)?.GetSingleChild(name) is { } child && !child.IsNobody()
                ? child
                : throw new CommandFailedException($"There is no actor at {path}.");
        }
        var text = new StringBuilder();
        Walk(root!, names.Length == 0 ? "/" : "/" + string.Join('/', names), 0, depth, text);
        await call.Output.Text(text.ToString().TrimEnd('\n')).ConfigureAwait(false);
    }

    /// <summary>
    /// Another node's tree, level by level: an Identify sent to path/*, path/*/*, ... is answered by every actor at
    /// that depth (remoting expands the wildcards on the far side), so nothing but Akka runs there.
    /// </summary>
    private async Task<string> RemoteHierarchy(ActorPath root, int depth, CancellationToken cancellation)
    {
        var system = context.System;
        var timeout = context.Settings.AskTimeout;
        ActorIdentity identity;
        try
        {
            identity = await system.ActorSelection(root).Ask<ActorIdentity>(new Identify("root"), timeout, cancellation).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            throw new CommandFailedException($"{root.Address} did not answer within {timeout.TotalSeconds:0.#} s.");
        }
        if (identity.Subject is null)
            throw new CommandFailedException($"There is no actor at {root}.");

        var replies = System.Threading.Channels.Channel.CreateUnbounded<ActorIdentity>();
        var collector = system.ActorOf(Props.Create(() => new IdentityCollector(replies.Writer)));
        var found = new List<ActorPath>();
        try
        {
            var deadline = DateTime.UtcNow + timeout;
            for (var level = 1; level <= depth && DateTime.UtcNow < deadline; level++)
            {
                var pattern = root.ToStringWithAddress().TrimEnd('/') + string.Concat(Enumerable.Repeat("/*", level));
                // A string id: it crosses the wire as itself whatever serializer carries it.
                var id = "level-" + level.ToString(System.Globalization.CultureInfo.InvariantCulture);
                system.ActorSelection(pattern).Tell(new Identify(id), collector);
                var atLevel = 0;
                // Replies come one per actor with no count ahead: a short silence ends the level.
                while (true)
                {
                    using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
                    quiet.CancelAfter(TimeSpan.FromMilliseconds(400));
                    try
                    {
                        var reply = await replies.Reader.ReadAsync(quiet.Token).ConfigureAwait(false);
                        if (reply.Subject is { } subject && Equals(reply.MessageId as string, id))
                        {
                            found.Add(subject.Path);
                            atLevel++;
                        }
                    }
                    catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
                    {
                        break;
                    }
                }
                if (atLevel == 0)
                    break;
            }
        }
        finally
        {
            system.Stop(collector);
        }

        var text = new StringBuilder().Append(root.ToStringWithAddress()).Append('\n');
        var rootDepth = root.Elements.Count;
        foreach (var path in found.Distinct().OrderBy(p => string.Join('\u0001', p.Elements), StringComparer.Ordinal))
            text.Append(' ', (path.Elements.Count - rootDepth) * 2).Append(path.Name).Append('\n');
        return text.ToString().TrimEnd('\n');
    }

    /// <summary>Hands every ActorIdentity it receives to a channel (one remote hierarchy walk).</summary>
    private sealed class IdentityCollector : ReceiveActor
    {
        public IdentityCollector(System.Threading.Channels.ChannelWriter<ActorIdentity> replies) =>
            Receive<ActorIdentity>(i => replies.TryWrite(i));
    }

    private static void Walk(IActorRef actor, string label, int level, int depth, StringBuilder text)
    {
        text.Append(' ', level * 2).Append(label).Append('\n');
        if (level >= depth || actor is not ActorRefWithCell cell)
            return;
        foreach (var child in cell.Children.OrderBy(c => c.Path.Name, StringComparer.Ordinal))
            Walk(child, child.Path.Name, level + 1, depth, text);
    }
}
