using System.Net;
using System.Net.Sockets;
using EvolQ.Testing;

namespace EvolQ.Cli.Tests.Sweep;

/// <summary>`evolq run` opens its node's ctl endpoint and dashboard, and goes on without either when its port is taken.</summary>
[Trait("Category", "Slow")]
public sealed class RunCtlTests
{
    [Fact]
    public void A_run_whose_ctl_port_is_taken_warns_in_one_line_and_still_finishes()
    {
        using var dir = new TempDirectory();
        var file = dir.File("one.conf");
        File.WriteAllText(file, SweepTestNode.SweepText("one", seeds: "[0]"));
        var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        Environment.SetEnvironmentVariable("EVOLQ_CTL_PORT", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            var run = Cli.Run("run", file, "--db", dir.File("journal.db"), "--out", dir.File("out"), "--dashboard-port", "0");
            run.AssertSuccess();
            var warning = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            Assert.StartsWith($"evolq: warning: The ctl endpoint cannot listen on 127.0.0.1:{port}:", warning, StringComparison.Ordinal);
            Assert.EndsWith("the run goes on without a ctl endpoint.", warning, StringComparison.Ordinal);
            Assert.Contains("sweep one done: 1 jobs done", run.Output, StringComparison.Ordinal);

            // With the port free, the run says where its endpoint listens; the dashboard's port taken now costs only that.
            taken.Stop();
            var dashboardTaken = new TcpListener(IPAddress.Loopback, 0);
            dashboardTaken.Start();
            var dashboardPort = ((IPEndPoint)dashboardTaken.LocalEndpoint).Port;
            try
            {
                var rerun = Cli.Run("run", file, "--db", dir.File("journal.db"), "--out", dir.File("out"), "--dashboard-port", dashboardPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
                rerun.AssertSuccess();
                Assert.Contains($"ctl endpoint on 127.0.0.1:{port}: evolq sweep show one --follow --node 127.0.0.1:{port}", rerun.Output, StringComparison.Ordinal);
                var dashboardWarning = Assert.Single(rerun.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                Assert.Equal($"evolq: warning: The dashboard (--dashboard-port) cannot listen on 127.0.0.1:{dashboardPort} (the address is in use); the run goes on without a dashboard.", dashboardWarning);
            }
            finally
            {
                dashboardTaken.Stop();
            }
        }
        finally
        {
            taken.Stop();
            Environment.SetEnvironmentVariable("EVOLQ_CTL_PORT", null);
        }
    }
}
