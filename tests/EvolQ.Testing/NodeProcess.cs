using System.Globalization;

namespace EvolQ.Testing;

/// <summary>
/// One `evolq node` as a real OS process on 127.0.0.1, configured through EVOLQ_* variables: its own remoting and ctl
/// ports (several nodes share the machine), no seeds (it founds its own cluster) unless told, no token or log
/// settings inherited from the developer's shell. Killed with its children on dispose.
/// </summary>
public sealed class NodeProcess : IDisposable, IAsyncDisposable
{
    /// <summary>The start of the line a node prints once it is a cluster member.</summary>
    public const string UpLine = "evolq node: up at";

    private NodeProcess(ChildProcess process, int port, int ctlPort, string roles)
    {
        Process = process;
        Port = port;
        CtlPort = ctlPort;
        Roles = roles;
    }

    /// <summary>The process itself, for what its two streams say apart.</summary>
    public ChildProcess Process { get; }

    /// <summary>The remoting port.</summary>
    public int Port { get; }

    /// <summary>The ctl endpoint's port.</summary>
    public int CtlPort { get; }

    /// <summary>EVOLQ_ROLES as given ("" for the node's default).</summary>
    public string Roles { get; }

    public string Address => $"akka.tcp://evolq@127.0.0.1:{Port}";

    /// <summary>Everything the node wrote so far, stdout and stderr in arrival order.</summary>
    public string Output => Process.Transcript;

    public bool HasExited => Process.HasExited;

    /// <summary>
    /// Starts `evolq node ARGUMENTS` journaling to <paramref name="database"/>; <paramref name="environment"/> is
    /// applied last (a null value removes a variable).
    /// </summary>
    public static NodeProcess Start(string database, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var variables = new Dictionary<string, string?>
        {
            ["EVOLQ_HOSTNAME"] = "127.0.0.1",
            ["EVOLQ_PORT"] = Invariant(Loopback.FreePort()),
            ["EVOLQ_CTL_PORT"] = Invariant(Loopback.FreePort()),
            ["EVOLQ_DB"] = database,
            ["EVOLQ_SEEDS"] = null,
            ["EVOLQ_ROLES"] = null,
            ["EVOLQ_CONFIG"] = null,
            ["EVOLQ_CTL_TOKEN"] = null,
            ["EVOLQ_LOG_LEVEL"] = null,
            ["EVOLQ_LOG_FORMAT"] = null,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
            variables[name] = value;
        var process = ChildProcess.Start(Evolq.Executable, ["node", .. arguments], variables);
        return new NodeProcess(process, int.Parse(variables["EVOLQ_PORT"]!, CultureInfo.InvariantCulture),
            int.Parse(variables["EVOLQ_CTL_PORT"]!, CultureInfo.InvariantCulture), variables["EVOLQ_ROLES"] ?? "");
    }

    /// <summary>A member of a loopback cluster: <paramref name="roles"/> on <paramref name="port"/>, joining <paramref name="seeds"/> (its own port first makes it the founder; none, its own cluster).</summary>
    public static NodeProcess StartMember(string roles, int port, IEnumerable<int> seeds, string database, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var variables = new Dictionary<string, string?>
        {
            ["EVOLQ_PORT"] = Invariant(port),
            ["EVOLQ_SEEDS"] = seeds.Any() ? string.Join(',', seeds.Select(s => $"127.0.0.1:{Invariant(s)}")) : null,
            ["EVOLQ_ROLES"] = roles,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
            variables[name] = value;
        return Start(database, arguments, variables);
    }

    /// <summary>Waits until the node says it is up; a node that exits or stays silent is killed and fails the test with its output.</summary>
    public async Task<NodeProcess> Up(TimeSpan timeout)
    {
        try
        {
            await WaitFor(UpLine, timeout);
            return this;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Waits until either stream contains <paramref name="text"/>.</summary>
    public Task WaitFor(string text, TimeSpan timeout) =>
        Process.WaitFor(() => Output.Contains(text, StringComparison.Ordinal), $"'{text}' from the node ({Roles} {Port})", timeout);

    /// <summary>kill -9: no shutdown, no leave, nothing flushed.</summary>
    public void Kill() => Process.Kill();

    /// <summary>SIGTERM, as Kubernetes stops a pod (the node should leave the cluster and exit 0); the exit code.</summary>
    public async Task<int> Terminate(TimeSpan timeout)
    {
        await Process.Signal("TERM");
        return await Process.WaitForExit(timeout);
    }

    public void Dispose() => Process.Dispose();

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private static string Invariant(int n) => n.ToString(CultureInfo.InvariantCulture);
}
