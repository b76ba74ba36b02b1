namespace EvolQ.Cluster.Ctl.Palettes;

/// <summary>`remote`: this node's remoting associations with other nodes.</summary>
public sealed class RemotePalette(CtlContext context) : Palette("remote", "Remoting: this node's associations with other nodes.")
{
    [Command("connections", "Every node this node has been associated with: the association's state, who opened it, since when, and the node's cluster status.")]
    public Task Connections(CommandCall call)
    {
        var state = Akka.Cluster.Cluster.Get(context.System).State;
        var rows = RemoteConnections.Get(context.System).All.Select(c =>
        {
            var member = state.Members.FirstOrDefault(m => m.Address.Equals(c.Remote));
            var status = member is null ? "-" : state.Unreachable.Contains(member) ? $"{member.Status}, unreachable" : member.Status.ToString();
            return (IReadOnlyList<string>)
            [
                c.Remote.ToString(), c.State, c.Inbound ? "inbound" : "outbound", Cells.Time(c.Since), status, c.Detail ?? "",
            ];
        });
        return call.Output.Table("", ["address", "association", "direction", "since", "member", "detail"], rows);
    }
}
