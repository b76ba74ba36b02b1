using System.Diagnostics;
using System.Security.Cryptography;
using EvolQ.Testing;
using Npgsql;

namespace EvolQ.Cluster.Tests.Persistence;

/// <summary>
/// A throwaway PostgreSQL server: initdb into a temporary folder, a free loopback port, password authentication, its
/// unix socket in the same folder; stopped and deleted on dispose. Run as the postgres user when the tests run as root,
/// because the server refuses to run as root.
/// </summary>
/// <remarks>
/// The server programs come from Debian's postgresql package (/usr/lib/postgresql/VERSION/bin); build.sh installs it.
/// Without them every test that uses this fixture fails with one sentence that says so: a missing database is not a
/// reason to pass.
/// </remarks>
public sealed class PostgresServer : IDisposable
{
    /// <summary>The superuser initdb creates; the tests log in as it over TCP with <see cref="Password"/>.</summary>
    public const string User = "evolq";

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);
    private readonly string root;
    private readonly string data;
    private readonly string bin;
    private readonly bool asPostgresUser;
    private bool stopped;

    public PostgresServer()
    {
        bin = FindBinaries() ?? throw new InvalidOperationException(
            "PostgreSQL's server programs (initdb, pg_ctl) are not installed: run `apt-get install postgresql` (./build.sh test does) so that /usr/lib/postgresql/VERSION/bin exists.");
        asPostgresUser = Environment.UserName == "root";
        root = Directory.CreateTempSubdirectory("evolq-pg-").FullName;
        data = Path.Combine(root, "data");
        Password = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        try
        {
            var passwordFile = Path.Combine(root, "password");
            File.WriteAllText(passwordFile, Password + "\n");
            if (asPostgresUser)
                Run("chown", ["-R", "postgres:postgres", root], asPostgres: false);
            Run(Path.Combine(bin, "initdb"),
                ["-D", data, "-U", User, "--pwfile", passwordFile, "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C", "--no-sync"]);
            File.Delete(passwordFile);
            Port = Loopback.FreePort();
            var options = $"-p {Port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=50";
            Run(Path.Combine(bin, "pg_ctl"), ["-D", data, "-l", Path.Combine(root, "server.log"), "-w", "-t", "60", "-o", options, "start"]);
            // The fixture is usable only once a password login over TCP works.
            Scalar("postgres", "SELECT 1");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The superuser's password (random per server).</summary>
    public string Password { get; }

    /// <summary>The TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>The server's version line, e.g. "PostgreSQL 15.8 ...".</summary>
    public string Version => (string)Scalar("postgres", "SELECT version()")!;

    /// <summary>Creates an empty database and returns its name.</summary>
    public string CreateDatabase(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 33, 63)];
        Execute("postgres", $"CREATE DATABASE \"{name}\"");
        return name;
    }

    /// <summary>A connection string for <paramref name="database"/> without the password (it travels apart).</summary>
    public string ConnectionStringWithoutPassword(string database) =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Database = database, Username = User }.ConnectionString;

    /// <summary>A URI for <paramref name="database"/> without the password.</summary>
    public string Uri(string database) => $"postgres://{User}@127.0.0.1:{Port}/{database}";

    /// <summary>Runs one statement and returns the first column of the first row.</summary>
    public object? Scalar(string database, string sql)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionStringWithoutPassword(database)) { Password = Password, Pooling = false }.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        return command.ExecuteScalar();
    }

    public void Execute(string database, string sql) => Scalar(database, sql);

    public void Dispose()
    {
        if (stopped)
            return;
        stopped = true;
        try
        {
            if (File.Exists(Path.Combine(data, "postmaster.pid")))
                Run(Path.Combine(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The newest installed server's bin folder, or null.</summary>
    private static string? FindBinaries()
    {
        const string installed = "/usr/lib/postgresql";
        if (!Directory.Exists(installed))
            return null;
        return Directory.GetDirectories(installed)
            .Where(d => File.Exists(Path.Combine(d, "bin", "initdb")) && File.Exists(Path.Combine(d, "bin", "pg_ctl")))
            .OrderByDescending(d => int.TryParse(Path.GetFileName(d).Split('.')[0], out var v) ? v : 0)
            .Select(d => Path.Combine(d, "bin"))
            .FirstOrDefault();
    }

    private void Run(string program, IReadOnlyList<string> arguments, bool asPostgres = true)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = root,
        };
        if (asPostgres && asPostgresUser)
        {
            start.FileName = "runuser";
            foreach (var a in (string[])["-u", "postgres", "--", program])
                start.ArgumentList.Add(a);
        }
        else
        {
            start.FileName = program;
        }
        foreach (var a in arguments)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        // pg_ctl start leaves the server holding its output pipes: read to the end only after the exit, and not at all
        // once the server owns them (it logs to server.log).
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(CommandTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(program)} {string.Join(' ', arguments)} did not finish in {CommandTimeout.TotalSeconds} s.");
        }
        if (process.ExitCode != 0)
        {
            var log = Path.Combine(root, "server.log");
            var tail = File.Exists(log) ? File.ReadAllText(log) : "";
            throw new InvalidOperationException(
                $"{Path.GetFileName(program)} {string.Join(' ', arguments)} exited with {process.ExitCode}: {Completed(stderr)} {Completed(stdout)} {tail}");
        }
    }

    private static string Completed(Task<string> output) => output.Wait(TimeSpan.FromSeconds(2)) ? output.Result.Trim() : "";
}
