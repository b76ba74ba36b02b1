using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Coordination;
using EvolQ.Cluster.Workers;

namespace EvolQ.Cluster.Tests;

public sealed class NodeConfigTests
{
    [Fact]
    public void The_local_profile_is_one_node_with_both_roles_and_SQLite()
    {
        var config = NodeConfig.Load("local", _ => null);
        Assert.Equal(["coordinator", "worker"], config.GetStringList("akka.cluster.roles"));
        Assert.Empty(config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal("SQLite.MS", config.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal("Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql", config.GetString("akka.persistence.journal.sql.class"));
        Assert.Equal("Akka.Persistence.Sql.Snapshot.SqlSnapshotStore, Akka.Persistence.Sql", config.GetString("akka.persistence.snapshot-store.sql.class"));
        Assert.False(config.GetBoolean("akka.cluster.sharding.remember-entities"));
        Assert.Equal(8L << 20, config.GetByteSize("evolq.serialization.max-message-bytes"));
        Assert.True(config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size") > config.GetByteSize("evolq.serialization.max-message-bytes"));
        Assert.Equal(TimeSpan.FromMinutes(10), CoordinatorSettings.From(config).RequestTimeout);
        Assert.Equal(2, DeviceWorkerSettings.From(config, "w").MaxHeldJobs);
    }

    [Fact]
    public void Environment_variables_override_address_seeds_roles_and_database()
    {
        var env = new Dictionary<string, string>
        {
            ["EVOLQ_HOSTNAME"] = "10.1.2.3",
            ["EVOLQ_PORT"] = "9200",
            ["EVOLQ_SEEDS"] = "10.1.2.1:9100, akka.tcp://evolq@seed-b:9100",
            ["EVOLQ_ROLES"] = "worker",
            ["EVOLQ_DB"] = "/var/lib/evolq/jobs.db",
        };
        var config = NodeConfig.Load("multi-node", name => env.GetValueOrDefault(name));
        Assert.Equal("10.1.2.3", config.GetString("akka.remote.dot-netty.tcp.public-hostname"));
        Assert.Equal(9200, config.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal(["akka.tcp://evolq@10.1.2.1:9100", "akka.tcp://evolq@seed-b:9100"], config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(["worker"], config.GetStringList("akka.cluster.roles"));
        Assert.Equal("Data Source=/var/lib/evolq/jobs.db", config.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.Equal("Data Source=/var/lib/evolq/jobs.db", config.GetString("akka.persistence.snapshot-store.sql.connection-string"));
    }

    [Fact]
    public void Without_overrides_the_multi_node_profile_has_static_seeds()
    {
        var config = NodeConfig.Load("multi-node", _ => null);
        Assert.Equal(2, config.GetStringList("akka.cluster.seed-nodes").Count);
        Assert.Equal(["worker"], config.GetStringList("akka.cluster.roles"));
    }

    [Theory]
    [InlineData("EVOLQ_PORT", "ninety")]
    [InlineData("EVOLQ_SEEDS", "no-port-here")]
    [InlineData("EVOLQ_ROLES", "coordinator,boss")]
    [InlineData("EVOLQ_CONFIG", "/no/such/file.conf")]
    public void A_bad_variable_is_one_sentence_naming_it(string name, string value)
    {
        var e = Assert.Throws<ConfigurationException>(() => NodeConfig.Load("local", n => n == name ? value : null));
        Assert.Contains(value.Split(',')[^1], e.Message, StringComparison.Ordinal);
        Assert.EndsWith(".", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hostile_EVOLQ_CONFIG_is_one_sentence_never_a_hang_or_a_stack_overflow()
    {
        using var dir = new EvolQ.Testing.TempDirectory();
        var fifo = dir.File("pipe.conf");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
            await mkfifo.WaitForExitAsync();
        File.WriteAllText(dir.File("deep.conf"), "a = " + new string('[', 100_000) + new string(']', 100_000));
        File.WriteAllText(dir.File("self.conf"), "a = ${a}\nb = ${a}");
        File.WriteAllText(dir.File("include.conf"), "include \"other.conf\"\nakka.loglevel = INFO");
        File.WriteAllBytes(dir.File("binary.conf"), [0xff, 0xfe, 0x00, 0xc3]);
        File.WriteAllText(dir.File("good.conf"), "evolq.coordinator.tick-interval = 123ms");

        async Task<string> Refused(string path)
        {
            var task = Task.Run(() => Assert.Throws<ConfigurationException>(() => NodeConfig.Load("local", n => n == "EVOLQ_CONFIG" ? path : null)).Message);
            Assert.True(await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(10))) == task, $"EVOLQ_CONFIG={path} hangs");
            return await task;
        }

        Assert.Equal($"EVOLQ_CONFIG names '{fifo}', which is a FIFO (named pipe), not a regular file.", await Refused(fifo));
        Assert.Equal("EVOLQ_CONFIG names '/dev/zero', which is a character device, not a regular file.", await Refused("/dev/zero"));
        Assert.Equal($"EVOLQ_CONFIG names '{dir.Path}', which is a directory, not a file.", await Refused(dir.Path));
        Assert.StartsWith($"EVOLQ_CONFIG: {dir.File("deep.conf")}:1: objects and lists nest deeper than 64 levels", await Refused(dir.File("deep.conf")), StringComparison.Ordinal);
        Assert.Equal($"EVOLQ_CONFIG: {dir.File("self.conf")}: the substitution ${{a}} refers to itself (directly or through others).", await Refused(dir.File("self.conf")));
        Assert.StartsWith($"EVOLQ_CONFIG: {dir.File("include.conf")}:1: include directives are not allowed", await Refused(dir.File("include.conf")), StringComparison.Ordinal);
        Assert.Equal($"EVOLQ_CONFIG names '{dir.File("binary.conf")}', which is not UTF-8 text.", await Refused(dir.File("binary.conf")));
        Assert.Equal(TimeSpan.FromMilliseconds(123),
            NodeConfig.Load("local", n => n == "EVOLQ_CONFIG" ? dir.File("good.conf") : null).GetTimeSpan("evolq.coordinator.tick-interval"));
    }

    [Fact]
    public void An_unknown_profile_is_refused()
    {
        var e = Assert.Throws<ConfigurationException>(() => NodeConfig.Load("cloud", _ => null));
        Assert.Contains("local, multi-node", e.Message, StringComparison.Ordinal);
    }
}
