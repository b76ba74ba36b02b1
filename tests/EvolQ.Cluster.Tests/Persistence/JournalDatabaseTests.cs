using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Persistence;
using Npgsql;

namespace EvolQ.Cluster.Tests.Persistence;

/// <summary>The forms of EVOLQ_DB (with EVOLQ_DB_PASSWORD and EVOLQ_DB_PROVIDER) and what they become in HOCON.</summary>
public sealed class JournalDatabaseTests
{
    private static Config Load(params (string Name, string Value)[] variables) =>
        NodeConfig.Load("local", name => variables.FirstOrDefault(v => v.Name == name).Value);

    private static Dictionary<string, string> Keywords(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return builder.Keys.Where(k => builder[k] is not null && builder[k]!.ToString()!.Length > 0)
            .ToDictionary(k => k, k => builder[k]!.ToString()!, StringComparer.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_file_path_is_a_SQLite_database()
    {
        var db = JournalDatabase.Parse("/var/lib/evolq/jobs.db");
        Assert.Equal("SQLite.MS", db.ProviderName);
        Assert.Equal("Data Source=/var/lib/evolq/jobs.db", db.ConnectionString);
        Assert.False(db.IsPostgres);
    }

    [Fact]
    public void A_SQLite_connection_string_is_kept_with_its_options()
    {
        var db = JournalDatabase.Parse("Data Source=jobs.db;Default Timeout=60");
        Assert.Equal("SQLite.MS", db.ProviderName);
        Assert.Contains("Default Timeout=60", db.ConnectionString, StringComparison.Ordinal);
    }

    [Fact]
    public void A_postgres_uri_becomes_an_Npgsql_connection_string_with_the_separate_password()
    {
        var db = JournalDatabase.Parse("postgres://evolq@db.example:6543/jobs?sslmode=verify-full&application_name=evolq-node", "s3cret;\"x");
        Assert.True(db.IsPostgres);
        Assert.Equal("PostgreSQL.9.5", db.ProviderName);
        var keywords = Keywords(db.ConnectionString);
        Assert.Equal("db.example", keywords["Host"]);
        Assert.Equal("6543", keywords["Port"]);
        Assert.Equal("jobs", keywords["Database"]);
        Assert.Equal("evolq", keywords["Username"]);
        Assert.Equal("s3cret;\"x", keywords["Password"]);
        Assert.Equal("VerifyFull", keywords["SSL Mode"]);
        Assert.Equal("evolq-node", keywords["Application Name"]);
        Assert.DoesNotContain("s3cret", db.Redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", db.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_postgresql_uri_with_an_escaped_password_an_IPv6_host_and_no_port_is_read_as_libpq_reads_it()
    {
        var keywords = Keywords(JournalDatabase.Parse("postgresql://job%20runner:p%40ss@[::1]/evolq%2Djobs").ConnectionString);
        Assert.Equal("::1", keywords["Host"]);
        Assert.Equal("5432", keywords["Port"]);
        Assert.Equal("evolq-jobs", keywords["Database"]);
        Assert.Equal("job runner", keywords["Username"]);
        Assert.Equal("p@ss", keywords["Password"]);
        // EVOLQ_DB_PASSWORD (from the Secret) wins over a password left in the URI.
        Assert.Equal("from-secret", Keywords(JournalDatabase.Parse("postgresql://u:old@h/d", "from-secret").ConnectionString)["Password"]);
    }

    [Fact]
    public void A_keyword_connection_string_takes_the_password_and_a_provider_switch()
    {
        var db = JournalDatabase.Parse("Host=pg.evolq.svc;Port=5432;Database=evolq;Username=evolq", "pw", "PostgreSQL.15");
        Assert.Equal("PostgreSQL.15", db.ProviderName);
        var keywords = Keywords(db.ConnectionString);
        Assert.Equal("pg.evolq.svc", keywords["Host"]);
        Assert.Equal("pw", keywords["Password"]);
    }

    [Fact]
    public void The_provider_names_offered_are_linq2db_PostgreSQL_names()
    {
        Assert.Contains("PostgreSQL.9.5", JournalDatabase.PostgresProviders);
        Assert.Contains("PostgreSQL.15", JournalDatabase.PostgresProviders);
        Assert.Contains("PostgreSQL", JournalDatabase.PostgresProviders);
        Assert.All(JournalDatabase.PostgresProviders, p => Assert.StartsWith("PostgreSQL", p, StringComparison.Ordinal));
    }

    [Fact]
    public void Through_the_environment_all_three_plugins_point_at_PostgreSQL()
    {
        var config = Load(("EVOLQ_DB", "postgres://evolq@pg:5432/evolq"), ("EVOLQ_DB_PASSWORD", "pw from secret"), ("EVOLQ_DB_PROVIDER", "PostgreSQL.15"));
        foreach (var plugin in new[] { "journal.sql", "snapshot-store.sql", "query.journal.sql" })
        {
            Assert.Equal("PostgreSQL.15", config.GetString($"akka.persistence.{plugin}.provider-name"));
            var keywords = Keywords(config.GetString($"akka.persistence.{plugin}.connection-string"));
            Assert.Equal("pg", keywords["Host"]);
            Assert.Equal("pw from secret", keywords["Password"]);
        }
        // The plugin classes stay those of base.conf.
        Assert.Equal("Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql", config.GetString("akka.persistence.journal.sql.class"));
    }

    [Fact]
    public void Without_EVOLQ_DB_the_SQLite_default_stays()
    {
        var config = Load();
        Assert.Equal("SQLite.MS", config.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal("Data Source=evolq.db", config.GetString("akka.persistence.journal.sql.connection-string"));
    }

    [Theory]
    [InlineData("mysql://u@h/d", null, null, "mysql://")]
    [InlineData("postgres://evolq@pg:5432/", null, null, "without a database")]
    [InlineData("postgres://evolq@pg/db?sslmode=sometimes", null, null, "sslmode=sometimes")]
    [InlineData("postgres://evolq@pg/db?pool=yes", null, null, "'pool'")]
    [InlineData("Host=pg;Database=evolq;Colour=blue", null, null, "not a valid PostgreSQL connection string")]
    [InlineData("Database=evolq;Username=u", null, null, "without a host")]
    [InlineData("Host=pg;Port=high;Database=evolq", null, null, "not a valid PostgreSQL connection string")]
    [InlineData("Data Source=jobs.db;Flavour=mint", null, null, "not a valid SQLite connection string")]
    [InlineData("/var/lib/evolq/jobs.db", "pw", null, "SQLite file, which has no password")]
    [InlineData("/var/lib/evolq/jobs.db", null, "PostgreSQL.15", "not a provider for a SQLite file")]
    [InlineData("postgres://u@h/d", null, "SQLite.MS", "not a PostgreSQL provider")]
    [InlineData("postgres://u@h/d", null, "Oracle.11.Managed", "not a PostgreSQL provider")]
    public void A_malformed_value_is_one_sentence(string value, string? password, string? provider, string expected)
    {
        var e = Assert.Throws<ConfigurationException>(() => JournalDatabase.Parse(value, password, provider));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.EndsWith(".", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("EVOLQ_DB_PASSWORD")]
    [InlineData("EVOLQ_DB_PROVIDER")]
    public void A_password_or_provider_without_EVOLQ_DB_is_refused(string name)
    {
        var e = Assert.Throws<ConfigurationException>(() => Load((name, "PostgreSQL.15")));
        Assert.Equal($"{name} is set without EVOLQ_DB: name the database too.", e.Message);
    }
}
