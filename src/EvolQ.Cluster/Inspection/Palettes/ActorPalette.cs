using System.Text;
using Akka.Actor;

namespace EvolQ.Cluster.Inspection.Palettes;

/// <summary>`actor`: the actor system's facts and its tree of actors.</summary>
public sealed class ActorPalette(InspectionContext context) : Palette("actor", "The actor system and its actors.")
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

    [Command("hierarchy", "The actors under a path (/user, /system or /), indented by depth.")]
    [Argument("path", "where to start", Optional = true)]
    [Option("depth", "how many levels below the path", Default = "8")]
    public Task Hierarchy(CommandCall call)
    {
        var path = call.Get("path") ?? "/user";
        var depth = call.PositiveInt("depth");
        var system = (ExtendedActorSystem)context.System;
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
        return call.Output.Text(text.ToString().TrimEnd('\n'));
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
