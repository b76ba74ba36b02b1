using EvolQ.Testing;

namespace EvolQ.Cluster.Tests.Security;

/// <summary>
/// TLS between real `evolq node` processes on loopback, configured as in Kubernetes (EVOLQ_TLS_CERT and
/// EVOLQ_TLS_PASSWORD): a node with the cluster certificate joins, one without TLS and one with another certificate
/// do not.
/// </summary>
[Trait("Category", "Slow")]
public sealed class TlsNodeProcessTests
{
    private const string Password = "cluster-secret";
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_node_process_with_the_certificate_joins_and_nodes_without_it_or_with_another_do_not()
    {
        using var dir = new TempDirectory();
        var certificate = TestCertificates.SelfSigned(dir.Path, "evolq-cluster", Password);
        var impostor = TestCertificates.SelfSigned(dir.Path, "evolq-impostor", Password);
        var seedPort = Loopback.FreePort();
        Dictionary<string, string> Node(string name, string? pfx, string roles, bool joinSeed)
        {
            var port = name == "seed" ? seedPort : Loopback.FreePort();
            var env = new Dictionary<string, string>
            {
                ["EVOLQ_HOSTNAME"] = "127.0.0.1",
                ["EVOLQ_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["EVOLQ_ROLES"] = roles,
                ["EVOLQ_DB"] = dir.File(name + ".db"),
            };
            if (joinSeed)
                env["EVOLQ_SEEDS"] = $"127.0.0.1:{seedPort}";
            if (pfx is not null)
            {
                env["EVOLQ_TLS_CERT"] = pfx;
                env["EVOLQ_TLS_PASSWORD"] = Password;
            }
            return env;
        }

        await using var seed = NodeProcess.Start(Node("seed", certificate, "coordinator,worker", joinSeed: false));
        await seed.WaitFor($"evolq node: up at akka.ssl.tcp://evolq@127.0.0.1:{seedPort}", Startup);

        await using var member = NodeProcess.Start(Node("member", certificate, "worker", joinSeed: true));
        await using var plain = NodeProcess.Start(Node("plain", null, "worker", joinSeed: true));
        await using var stranger = NodeProcess.Start(Node("stranger", impostor, "worker", joinSeed: true));
        await member.WaitFor("evolq node: up at akka.ssl.tcp://evolq@127.0.0.1:", Startup);
        // The refused nodes started with the member; the seed has refused each of them at least once when it said why.
        await seed.WaitFor("CN=evolq-impostor", Startup);
        await seed.WaitFor("not an SSL/TLS record", Startup);
        // A refusal has no end to wait for (they keep retrying): they must stay out for a few retries more than the
        // member needed.
        await Eventually.Holds(
            () => !plain.Output.Contains("evolq node: up at", StringComparison.Ordinal) && !stranger.Output.Contains("evolq node: up at", StringComparison.Ordinal),
            TimeSpan.FromSeconds(5), "the plain and the impostor node staying out");

        Assert.DoesNotContain("evolq node: up at", plain.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("evolq node: up at", stranger.Output, StringComparison.Ordinal);
        Assert.Contains("Refused a TLS peer", seed.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, seed.Output, StringComparison.Ordinal);
        Assert.False(seed.HasExited);
        Assert.False(member.HasExited);
    }
}
