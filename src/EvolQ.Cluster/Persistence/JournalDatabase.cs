using System.Reflection;
using Akka.Configuration;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace EvolQ.Cluster.Persistence;

/// <summary>
/// Where coordinators keep their journal and snapshots: a SQLite file or a PostgreSQL database, as the linq2db
/// provider name and the connection string that Akka.Persistence.Sql takes.
/// </summary>
public sealed record JournalDatabase(string ProviderName, string ConnectionString)
{
    /// <summary>Microsoft.Data.Sqlite, the provider of a SQLite file.</summary>
    public const string SqliteProvider = LinqToDB.ProviderName.SQLiteMS;

    /// <summary>
    /// The PostgreSQL dialect used unless EVOLQ_DB_PROVIDER names another: 9.5 is the dialect Akka.Persistence.Sql's own
    /// PostgreSQL tests run with, so its SQL (upserts, identity columns) works on every server from 9.5 on.
    /// </summary>
    public const string PostgresProvider = LinqToDB.ProviderName.PostgreSQL95;

    /// <summary>The PostgreSQL port when a URI names none.</summary>
    public const int DefaultPostgresPort = 5432;

    /// <summary>Whether this is a PostgreSQL database (otherwise a SQLite file).</summary>
    public bool IsPostgres => ProviderName.StartsWith("PostgreSQL", StringComparison.Ordinal);

    /// <summary>The connection string with any password masked, for logs and messages.</summary>
    public string Redacted => IsPostgres
        ? new NpgsqlConnectionStringBuilder(ConnectionString) { Password = null }.ConnectionString
        : ConnectionString;

    /// <summary>The linq2db provider names of PostgreSQL (any of them may be given as EVOLQ_DB_PROVIDER).</summary>
    public static IReadOnlyList<string> PostgresProviders { get; } = ProviderNames("PostgreSQL");

    /// <summary>The linq2db provider names of SQLite that work with the Microsoft.Data.Sqlite driver shipped here.</summary>
    public static IReadOnlyList<string> SqliteProviders { get; } = [SqliteProvider];

    /// <summary>
    /// Reads EVOLQ_DB: a SQLite file path, a "Data Source=..." SQLite connection string, a postgres:// or postgresql://
    /// URI, or an Npgsql "Host=...;Database=..." connection string.
    /// </summary>
    /// <param name="value">The value of EVOLQ_DB.</param>
    /// <param name="password">EVOLQ_DB_PASSWORD (kept apart so that it can come from a Secret); replaces any password in <paramref name="value"/>.</param>
    /// <param name="provider">EVOLQ_DB_PROVIDER, a linq2db provider name; null for the default of the database kind.</param>
    /// <exception cref="ConfigurationException">A value is malformed or the three do not fit together (one sentence).</exception>
    public static JournalDatabase Parse(string value, string? password = null, string? provider = null)
    {
        ArgumentNullException.ThrowIfNull(value);
        value = value.Trim();
        if (value.Length == 0)
            throw new ConfigurationException("EVOLQ_DB is empty: give a SQLite file path, a postgres:// URI or a Host=...;Database=... string.");

        var scheme = value.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0)
        {
            var name = value[..scheme].ToLowerInvariant();
            if (name is not ("postgres" or "postgresql"))
                throw new ConfigurationException(
                    $"EVOLQ_DB is a {name}:// URI; only postgres:// and postgresql:// URIs (or a SQLite file path) are understood.");
            return Postgres(FromUri(value), password, provider);
        }

        if (value.Contains('=', StringComparison.Ordinal))
        {
            return IsSqliteConnectionString(value)
                ? Sqlite(SqliteConnection(value), password, provider)
                : Postgres(FromKeywords(value), password, provider);
        }

        return Sqlite(new SqliteConnectionStringBuilder { DataSource = value }.ConnectionString, password, provider);
    }

    /// <summary>The HOCON that points the journal, the snapshot store and the query journal at this database.</summary>
    public Config ToHocon() => ConfigurationFactory.ParseString(string.Join('\n', HoconLines()));

    /// <summary>The lines of <see cref="ToHocon"/>.</summary>
    public IEnumerable<string> HoconLines()
    {
        var connection = Quote(ConnectionString);
        var provider = Quote(ProviderName);
        foreach (var plugin in new[] { "journal.sql", "snapshot-store.sql", "query.journal.sql" })
        {
            yield return $"akka.persistence.{plugin}.connection-string = {connection}";
            yield return $"akka.persistence.{plugin}.provider-name = {provider}";
        }
    }

    private static JournalDatabase Sqlite(string connectionString, string? password, string? provider)
    {
        if (password is not null)
            throw new ConfigurationException("EVOLQ_DB_PASSWORD is set, but EVOLQ_DB names a SQLite file, which has no password.");
        provider ??= SqliteProvider;
        if (!SqliteProviders.Contains(provider, StringComparer.Ordinal))
            throw new ConfigurationException(
                $"EVOLQ_DB_PROVIDER is '{provider}', which is not a provider for a SQLite file: use {string.Join(", ", SqliteProviders)}.");
        return new JournalDatabase(provider, connectionString);
    }

    private static JournalDatabase Postgres(NpgsqlConnectionStringBuilder builder, string? password, string? provider)
    {
        if (string.IsNullOrWhiteSpace(builder.Host))
            throw new ConfigurationException("EVOLQ_DB names a PostgreSQL database without a host.");
        if (string.IsNullOrWhiteSpace(builder.Database))
            throw new ConfigurationException("EVOLQ_DB names a PostgreSQL server without a database.");
        if (password is not null)
            builder.Password = password;
        provider ??= PostgresProvider;
        if (!PostgresProviders.Contains(provider, StringComparer.Ordinal))
            throw new ConfigurationException(
                $"EVOLQ_DB_PROVIDER is '{provider}', which is not a PostgreSQL provider: use one of {string.Join(", ", PostgresProviders)}.");
        return new JournalDatabase(provider, builder.ConnectionString);
    }

    private static bool IsSqliteConnectionString(string value)
    {
        var key = value[..value.IndexOf('=', StringComparison.Ordinal)].Trim();
        return key.Equals("Data Source", StringComparison.OrdinalIgnoreCase)
            || key.Equals("DataSource", StringComparison.OrdinalIgnoreCase)
            || key.Equals("Filename", StringComparison.OrdinalIgnoreCase);
    }

    private static string SqliteConnection(string value)
    {
        try
        {
            var builder = new SqliteConnectionStringBuilder(value);
            if (string.IsNullOrWhiteSpace(builder.DataSource))
                throw new ConfigurationException("EVOLQ_DB is a SQLite connection string without a Data Source.");
            return builder.ConnectionString;
        }
        catch (ArgumentException e)
        {
            throw new ConfigurationException($"EVOLQ_DB is not a valid SQLite connection string: {Sentence(e.Message)}");
        }
    }

    private static NpgsqlConnectionStringBuilder FromKeywords(string value)
    {
        try
        {
            return new NpgsqlConnectionStringBuilder(value);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
        {
            throw new ConfigurationException($"EVOLQ_DB is not a valid PostgreSQL connection string: {Sentence(e.Message)}");
        }
    }

    /// <summary>postgres://user:password@host:port/database?sslmode=require, as libpq writes it.</summary>
    private static NpgsqlConnectionStringBuilder FromUri(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            throw new ConfigurationException("EVOLQ_DB is not a valid postgres:// URI (postgres://user@host:5432/database).");
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port < 0 ? DefaultPostgresPort : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')),
        };
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var text = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]);
            // libpq's names for the parameters a node may need; anything else is refused rather than ignored.
            var keyword = key switch
            {
                "sslmode" => "SSL Mode",
                "sslrootcert" => "Root Certificate",
                "application_name" => "Application Name",
                "connect_timeout" => "Timeout",
                "target_session_attrs" => "Target Session Attributes",
                _ => throw new ConfigurationException(
                    $"EVOLQ_DB's URI has the parameter '{key}'; only sslmode, sslrootcert, application_name, connect_timeout and target_session_attrs are understood."),
            };
            try
            {
                builder[keyword] = keyword == "SSL Mode" ? SslMode(text) : text;
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
            {
                throw new ConfigurationException($"EVOLQ_DB's URI parameter {key}={text} is not valid: {Sentence(e.Message)}");
            }
        }
        return builder;
    }

    /// <summary>libpq's sslmode values in Npgsql's spelling (verify-full is VerifyFull).</summary>
    private static string SslMode(string text) => text switch
    {
        "verify-ca" => "VerifyCA",
        "verify-full" => "VerifyFull",
        _ => text,
    };

    private static string[] ProviderNames(string prefix) =>
        typeof(LinqToDB.ProviderName).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!)
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Distinct()
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToArray();

    /// <summary>A library message as the end of our sentence (one line, one final full stop).</summary>
    private static string Sentence(string message)
    {
        var line = message.Split('\n')[0].Trim().TrimEnd('.');
        return line + ".";
    }

    private static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    /// <inheritdoc/>
    public override string ToString() => $"{ProviderName}: {Redacted}";
}
