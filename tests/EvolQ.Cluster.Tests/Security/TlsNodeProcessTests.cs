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
        NodeProcess Node(string name, string? pfx, string roles, bool joinSeed)
        {
            var port = name == "seed" ? seedPort : Loopback.FreePort();
            var env = new Dictionary<string, string?>
            {
                // The health endpoint on, as in Kubernetes, on a port of its own so that the four nodes fit on one machine.
                ["EVOLQ_HTTP_PORT"] = Loopback.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            };
            if (pfx is not null)
            {
                env["EVOLQ_TLS_CERT"] = pfx;
                env["EVOLQ_TLS_PASSWORD"] = Password;
            }
            return NodeProcess.StartMember(roles, port, joinSeed ? [seedPort] : [], dir.File(name + ".db"), ["--backend", "synthetic", "--synthetic-workers", "1"], env);
        }

        await using var seed = Node("seed", certificate, "coordinator,worker", joinSeed: false);
        await seed.WaitFor($"evolq node: up at akka.ssl.tcp://evolq@127.0.0.1:{seedPort}", Startup);

        await using var member = Node("member", certificate, "worker", joinSeed: true);
        await using var plain = Node("plain", null, "worker", joinSeed: true);
        await using var stranger = Node("stranger", impostor, "worker", joinSeed: true);
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
