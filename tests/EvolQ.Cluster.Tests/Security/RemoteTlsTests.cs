using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Akka.Actor;
using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Tests.Persistence;
using EvolQ.Cluster.Workers;
using EvolQ.Testing;
using EvolQ.Testing.Cluster;
using AkkaCluster = Akka.Cluster.Cluster;

namespace EvolQ.Cluster.Tests.Security;

/// <summary>
/// TLS for remoting between real nodes on loopback (one process, separate actor systems and sockets): nodes that hold
/// the cluster certificate form a cluster and run a job across it; a node without TLS, or with another certificate,
/// cannot join.
/// </summary>
public sealed class RemoteTlsTests
{
    private const string Password = "cluster-secret";
    private static readonly TimeSpan RefusedWithin = TimeSpan.FromSeconds(6);

    private static Dictionary<string, string> Tls(string certificate, string password = Password) => new()
    {
        ["EVOLQ_TLS_CERT"] = certificate,
        ["EVOLQ_TLS_PASSWORD"] = password,
    };

    [Trait("Category", "Slow")]
    [Fact]
    public async Task Two_nodes_with_the_cluster_certificate_form_a_cluster_and_run_a_job_over_TLS()
    {
        using var dir = new TempDirectory();
        var certificate = TestCertificates.SelfSigned(dir.Path, "evolq-cluster", Password);
        await using var nodes = new EnvironmentNodes(Tls(certificate), dir.File("journal.db"));
        var coordinator = await nodes.Start("coordinator");
        var worker = await nodes.Start("worker", [new SyntheticBackend(TimeSpan.FromMilliseconds(5))]);

        Assert.Equal("akka.ssl.tcp", coordinator.Address.Protocol);
        Assert.Equal(2, AkkaCluster.Get(coordinator.System).State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up));
        // The only worker is on the other node, so every evaluation crosses the TLS connection both ways.
        var spec = SyntheticJobs.Spec("tls");
        await coordinator.Jobs.Ask<JobAccepted>(new SubmitJob(spec), TimeSpan.FromSeconds(10));
        await TestNodes.WaitFor(coordinator.Jobs, spec.JobId, s => s.Phase == JobPhase.Done, TimeSpan.FromSeconds(40));
        var result = await coordinator.Jobs.Ask<JobResult>(new GetJobResult(spec.JobId), TimeSpan.FromSeconds(5));
        SyntheticJobs.AssertIdentical(SyntheticJobs.Reference(spec), result);
        Assert.Equal("akka.ssl.tcp", worker.Address.Protocol);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_node_without_TLS_cannot_join_a_TLS_cluster()
    {
        using var dir = new TempDirectory();
        var certificate = TestCertificates.SelfSigned(dir.Path, "evolq-cluster", Password);
        await using var nodes = new EnvironmentNodes(Tls(certificate), dir.File("journal.db"));
        var seed = await nodes.Start("coordinator, worker");
        using var plainDir = new TempDirectory();
        await using var plain = new EnvironmentNodes(new Dictionary<string, string>(), plainDir.File("journal.db"));

        // The same host and port over plain TCP: the seed's TLS handshake never completes.
        var target = new Address("akka.tcp", seed.Address.System, seed.Address.Host, seed.Address.Port);
        await Assert.ThrowsAsync<TimeoutException>(() => plain.Start("worker", join: target, upTimeout: RefusedWithin));

        Assert.Single(AkkaCluster.Get(seed.System).State.Members);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task A_node_with_another_certificate_cannot_join_and_the_seed_says_why()
    {
        using var dir = new TempDirectory();
        var certificate = TestCertificates.SelfSigned(dir.Path, "evolq-cluster", Password);
        var stranger = TestCertificates.SelfSigned(dir.Path, "evolq-cluster-impostor", Password);
        await using var nodes = new EnvironmentNodes(Tls(certificate), dir.File("journal.db"));
        var seed = await nodes.Start("coordinator, worker");
        var log = LogCapture.Attach(seed.System);

        using var otherDir = new TempDirectory();
        await using var others = new EnvironmentNodes(Tls(stranger), otherDir.File("journal.db"));
        await Assert.ThrowsAsync<TimeoutException>(() => others.Start("worker", join: seed.Address, upTimeout: RefusedWithin));

        Assert.Single(AkkaCluster.Get(seed.System).State.Members);
        // Both sides refuse each other's certificate; whichever judges first closes the connection, so the seed
        // either names the impostor or sees the handshake end (under load the impostor often refuses first).
        Assert.Contains(log, e => e.Message?.ToString() is { } m
            && ((m.Contains("Refused a TLS peer", StringComparison.Ordinal) && m.Contains("CN=evolq-cluster-impostor", StringComparison.Ordinal))
                || m.Contains("TLS handshake failed", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_TLS_client_without_a_certificate_is_disconnected_by_a_node()
    {
        using var dir = new TempDirectory();
        var certificate = TestCertificates.SelfSigned(dir.Path, "evolq-cluster", Password);
        await using var nodes = new EnvironmentNodes(Tls(certificate), dir.File("journal.db"));
        var seed = await nodes.Start("coordinator, worker");

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, seed.Address.Port!.Value);
        await using var tls = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
        // TLS 1.3 finishes the client's side of the handshake before the server has judged the client, so the refusal
        // shows up as a closed or failed connection on the first read; an accepted client would instead be left
        // waiting for the Akka handshake it never sends, and the read would time out.
        var refused = await Refused(async () =>
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
            return await tls.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        });
        Assert.True(refused, "the node kept a TLS connection open from a client without a certificate");
    }

    private static async Task<bool> Refused(Func<Task<int>> handshakeAndRead)
    {
        try
        {
            return await handshakeAndRead() == 0;
        }
        catch (Exception e) when (e is IOException or AuthenticationException)
        {
            return true;
        }
    }

    [Fact]
    public void EVOLQ_TLS_CERT_turns_TLS_on_with_validation_and_puts_seeds_in_the_TLS_scheme()
    {
        using var dir = new TempDirectory();
        var certificate = TestCertificates.SelfSigned(dir.Path, "evolq-cluster", Password);
        var env = new Dictionary<string, string>(Tls(certificate)) { ["EVOLQ_SEEDS"] = "10.0.0.1:9100, akka.tcp://evolq@seed-b:9100" };

        var config = NodeConfig.Load("local", name => env.GetValueOrDefault(name));

        Assert.True(config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));
        Assert.False(config.GetBoolean("akka.remote.dot-netty.tcp.ssl.suppress-validation"));
        Assert.True(config.GetBoolean("akka.remote.dot-netty.tcp.ssl.require-mutual-authentication"));
        Assert.Equal(certificate, config.GetString("akka.remote.dot-netty.tcp.ssl.certificate.path"));
        Assert.Equal(["akka.ssl.tcp://evolq@10.0.0.1:9100", "akka.ssl.tcp://evolq@seed-b:9100"], config.GetStringList("akka.cluster.seed-nodes"));
        // The profile's static seeds follow too.
        var multi = NodeConfig.Load("multi-node", name => name == "EVOLQ_TLS_CERT" ? certificate : null);
        Assert.All(multi.GetStringList("akka.cluster.seed-nodes"), s => Assert.StartsWith("akka.ssl.tcp://evolq@", s, StringComparison.Ordinal));
        // Without TLS nothing changes.
        Assert.All(NodeConfig.Load("multi-node", _ => null).GetStringList("akka.cluster.seed-nodes"), s => Assert.StartsWith("akka.tcp://", s, StringComparison.Ordinal));
    }

    [Fact]
    public void The_setup_carries_the_certificate_and_the_running_configuration_keeps_no_password()
    {
        using var dir = new TempDirectory();
        var certificate = TestCertificates.SelfSigned(dir.Path, "evolq-cluster", Password);
        var config = NodeConfig.Load("local", name => Tls(certificate).GetValueOrDefault(name),
            ConfigurationFactory.ParseString($"akka.persistence.journal.sql.connection-string = \"Data Source={dir.File("j.db")}\"\nakka.persistence.snapshot-store.sql.connection-string = \"Data Source={dir.File("j.db")}\""));

        var setup = NodeSetup.Prepare(config);

        var tls = setup.Get<Akka.Remote.Transport.DotNetty.DotNettySslSetup>().Value;
        Assert.True(tls.Certificate.HasPrivateKey);
        Assert.False(tls.SuppressValidation);
        Assert.True(tls.RequireMutualAuthentication);
        Assert.NotNull(tls.CustomValidator);
        var running = setup.Get<BootstrapSetup>().Value.Config.Value;
        Assert.True(running.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));
        Assert.Equal("", running.GetString("akka.remote.dot-netty.tcp.ssl.certificate.password"));
        Assert.DoesNotContain(Password, running.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_validator_accepts_only_the_cluster_certificate()
    {
        using var dir = new TempDirectory();
        using var own = RemoteTls.Load(TestCertificates.SelfSigned(dir.Path, "evolq-cluster", Password), Password);
        using var same = RemoteTls.Load(Path.Combine(dir.Path, "evolq-cluster.pfx"), Password);
        using var other = RemoteTls.Load(TestCertificates.SelfSigned(dir.Path, "evolq-cluster-2", Password), Password);
        using var expired = RemoteTls.Load(TestCertificates.SelfSigned(dir.Path, "old", Password, DateTimeOffset.UtcNow.AddMinutes(-1)), Password);
        var validator = RemoteTls.SameCertificate(own);

        Assert.True(validator(same, null!, "peer", System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors, null!));
        Assert.False(validator(other, null!, "peer", System.Net.Security.SslPolicyErrors.None, null!));
        Assert.False(validator(null!, null!, "peer", System.Net.Security.SslPolicyErrors.RemoteCertificateNotAvailable, null!));
        Assert.False(RemoteTls.SameCertificate(expired)(expired, null!, "peer", System.Net.Security.SslPolicyErrors.None, null!));
    }

    [Theory]
    [InlineData("missing", "does not exist")]
    [InlineData("wrong-password", "opens with the password given")]
    [InlineData("no-key", "has no private key")]
    [InlineData("not-pfx", "opens with the password given")]
    [InlineData("password-only", "EVOLQ_TLS_PASSWORD is set without EVOLQ_TLS_CERT")]
    [InlineData("suppressed", "suppress-validation is on")]
    public void A_bad_certificate_setting_is_one_sentence(string what, string expected)
    {
        using var dir = new TempDirectory();
        var certificate = TestCertificates.SelfSigned(dir.Path, "evolq-cluster", Password);
        var garbage = dir.File("garbage.pfx");
        File.WriteAllText(garbage, "not a certificate");
        var env = what switch
        {
            "missing" => Tls(dir.File("nothing.pfx")),
            "wrong-password" => Tls(certificate, "guess"),
            "no-key" => Tls(TestCertificates.PublicOnly(certificate, Password, dir.Path)),
            "not-pfx" => Tls(garbage),
            "password-only" => new Dictionary<string, string> { ["EVOLQ_TLS_PASSWORD"] = Password },
            _ => Tls(certificate),
        };
        var overrides = ConfigurationFactory.ParseString(
            (what == "suppressed" ? "akka.remote.dot-netty.tcp.ssl.suppress-validation = on\n" : "")
            + $"akka.persistence.journal.sql.connection-string = \"Data Source={dir.File("j.db")}\"\nakka.persistence.snapshot-store.sql.connection-string = \"Data Source={dir.File("j.db")}\"");

        var e = Assert.Throws<ConfigurationException>(() => NodeSetup.Prepare(NodeConfig.Load("local", name => env.GetValueOrDefault(name), overrides)));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.EndsWith(".", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, e.Message, StringComparison.Ordinal);
    }
}
