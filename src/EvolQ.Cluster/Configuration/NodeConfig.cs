using System.Globalization;
using System.Reflection;
using Akka.Configuration;
using EvolQ.Cluster.Persistence;

namespace EvolQ.Cluster.Configuration;

/// <summary>
/// Loads a node's configuration: hocon/base.conf, then a profile (local, multi-node), then the file named by
/// EVOLQ_CONFIG, then the EVOLQ_* environment variables, then the caller's overrides; later ones win.
/// </summary>
/// <remarks>
/// Environment variables: EVOLQ_HOSTNAME (the address other nodes reach this one at), EVOLQ_PORT, EVOLQ_SEEDS
/// (comma-separated host:port or akka.tcp:// addresses), EVOLQ_ROLES (comma-separated: coordinator, worker),
/// EVOLQ_DB (the journal and snapshot database: a SQLite file path, a postgres:// URI or a "Host=...;Database=..."
/// string), EVOLQ_DB_PASSWORD (the PostgreSQL password, kept apart so it can come from a Secret), EVOLQ_DB_PROVIDER
/// (a linq2db provider name, e.g. PostgreSQL.15), EVOLQ_HTTP_PORT (health and metrics; setting it turns the
/// endpoint on), EVOLQ_TLS_CERT and EVOLQ_TLS_PASSWORD (a PKCS#12 certificate that turns on TLS for remoting),
/// EVOLQ_CONFIG (a HOCON file), EVOLQ_CTL_HOST, EVOLQ_CTL_PORT and EVOLQ_CTL_TOKEN (the ctl command endpoint), and its
/// limits EVOLQ_CTL_MAX_CONNECTIONS, EVOLQ_CTL_MAX_CONNECTIONS_PER_CLIENT, EVOLQ_CTL_TOKEN_ATTEMPTS and
/// EVOLQ_CTL_IDLE_TIMEOUT (seconds).
/// </remarks>
public static class NodeConfig
{
    /// <summary>The actor system name every node of one cluster must share.</summary>
    public const string SystemName = "evolq";

    /// <summary>The profiles shipped in hocon/.</summary>
    public static readonly IReadOnlyList<string> Profiles = ["local", "multi-node", "kubernetes"];

    /// <summary>hocon/base.conf alone.</summary>
    public static Config Base => Embedded("base");

    /// <summary>The configuration of a node with <paramref name="profile"/>, the environment and overrides applied.</summary>
    /// <param name="environment">Reads an environment variable; the process environment when null.</param>
    /// <exception cref="ConfigurationException">A profile, file or variable is not usable (one sentence).</exception>
    public static Config Load(string profile = "local", Func<string, string?>? environment = null, Config? overrides = null)
    {
        ArgumentNullException.ThrowIfNull(profile);
        environment ??= Environment.GetEnvironmentVariable;
        if (!Profiles.Contains(profile))
            throw new ConfigurationException(
                $"There is no node profile '{profile}': choose one of {string.Join(", ", Profiles)}.");

        var config = Embedded(profile).WithFallback(Base);
        if (Variable(environment, "EVOLQ_CONFIG") is { } file)
            config = ConfigFile(file).WithFallback(config);

        config = EnvironmentOverrides(environment).WithFallback(config);
        config = overrides is null ? config : overrides.WithFallback(config);
        return WithTransportSchemeInSeeds(config);
    }

    /// <summary>The most bytes an EVOLQ_CONFIG file may have (a node's settings are a few KB).</summary>
    private const long MaxConfigFileBytes = 16L << 20;

    /// <summary>
    /// The operator's HOCON file (EVOLQ_CONFIG), read as a sweep file is: not a FIFO (opening one would wait forever)
    /// or device, bounded in size, and its nesting and substitutions checked before and after Akka's parser, which
    /// recurses and overflows the stack (the process dies) on a file nested some thousands deep.
    /// </summary>
    private static Config ConfigFile(string file)
    {
        var bytes = EvolQ.TensorIO.InputFile.ReadAllBytes(file, MaxConfigFileBytes,
            problem => new ConfigurationException($"EVOLQ_CONFIG names '{file}', which {problem}."),
            length => new ConfigurationException(string.Create(CultureInfo.InvariantCulture,
                $"EVOLQ_CONFIG names '{file}', which is {length} bytes; a node's settings file may have at most {MaxConfigFileBytes}.")));
        string text;
        try
        {
            text = Sweeps.HoconGuard.StrictUtf8.GetString(bytes);
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new ConfigurationException($"EVOLQ_CONFIG names '{file}', which is not UTF-8 text.");
        }
        if (Sweeps.HoconGuard.Scan(text, file) is [var first, ..])
            throw new ConfigurationException($"EVOLQ_CONFIG: {first}");
        var config = ConfigurationFactory.ParseString(text);
        if (Sweeps.HoconGuard.CheckSubstitutions(config, file) is { } substitutions)
            throw new ConfigurationException($"EVOLQ_CONFIG: {substitutions}");
        return config;
    }

    /// <summary>
    /// Seeds in the scheme of this node's transport: with TLS on, Akka's addresses are akka.ssl.tcp://, so seeds written
    /// as akka.tcp:// (the profiles' static seeds, a config file written before TLS was turned on) would never answer.
    /// </summary>
    public static Config WithTransportSchemeInSeeds(Config config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var tls = RemoteTls.Enabled(config);
        var seeds = config.GetStringList("akka.cluster.seed-nodes", []);
        var rewritten = seeds.Select(s => WithScheme(s, tls)).ToList();
        if (rewritten.SequenceEqual(seeds, StringComparer.Ordinal))
            return config;
        return ConfigurationFactory.ParseString($"akka.cluster.seed-nodes = [{string.Join(", ", rewritten.Select(Quote))}]").WithFallback(config);
    }

    /// <summary>The HOCON that the EVOLQ_* variables (other than EVOLQ_CONFIG) stand for; empty when none is set.</summary>
    public static Config EnvironmentOverrides(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var lines = new List<string>();
        if (Variable(environment, "EVOLQ_HOSTNAME") is { } host)
        {
            lines.Add($"akka.remote.dot-netty.tcp.hostname = {Quote(host)}");
            lines.Add($"akka.remote.dot-netty.tcp.public-hostname = {Quote(host)}");
        }
        if (Variable(environment, "EVOLQ_PORT") is { } portText)
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
                throw new ConfigurationException($"EVOLQ_PORT is '{portText}', not a port number.");
            lines.Add($"akka.remote.dot-netty.tcp.port = {port.ToString(CultureInfo.InvariantCulture)}");
        }
        if (Variable(environment, "EVOLQ_HTTP_PORT") is { } httpText)
        {
            if (!int.TryParse(httpText, NumberStyles.None, CultureInfo.InvariantCulture, out var http) || http > 65535)
                throw new ConfigurationException($"EVOLQ_HTTP_PORT is '{httpText}', not a port number.");
            lines.Add($"evolq.http.port = {http.ToString(CultureInfo.InvariantCulture)}");
            lines.Add("evolq.http.enabled = on");
        }
        var tlsCertificate = Variable(environment, "EVOLQ_TLS_CERT");
        if (tlsCertificate is not null)
        {
            if (!File.Exists(tlsCertificate))
                throw new ConfigurationException($"EVOLQ_TLS_CERT names '{tlsCertificate}', which does not exist.");
            lines.Add($"{RemoteTls.Transport}.enable-ssl = on");
            lines.Add($"{RemoteTls.Transport}.ssl.certificate.path = {Quote(tlsCertificate)}");
            // Not trimmed: a password may begin or end with a space.
            lines.Add($"{RemoteTls.Transport}.ssl.certificate.password = {Quote(environment("EVOLQ_TLS_PASSWORD") ?? "")}");
        }
        else if (!string.IsNullOrEmpty(environment("EVOLQ_TLS_PASSWORD")))
        {
            throw new ConfigurationException("EVOLQ_TLS_PASSWORD is set without EVOLQ_TLS_CERT: name the certificate file too.");
        }
        if (Variable(environment, "EVOLQ_SEEDS") is { } seeds)
            lines.Add($"akka.cluster.seed-nodes = [{string.Join(", ", List(seeds).Select(s => Quote(SeedAddress(s, tlsCertificate is not null))))}]");
        if (Variable(environment, "EVOLQ_ROLES") is { } roles)
        {
            var names = List(roles);
            if (names.FirstOrDefault(r => r is not ("coordinator" or "worker")) is { } bad)
                throw new ConfigurationException($"EVOLQ_ROLES names the role '{bad}': use coordinator, worker or both.");
            lines.Add($"akka.cluster.roles = [{string.Join(", ", names.Select(Quote))}]");
        }
        var password = environment("EVOLQ_DB_PASSWORD") is { Length: > 0 } p ? p : null;
        var provider = Variable(environment, "EVOLQ_DB_PROVIDER");
        if (Variable(environment, "EVOLQ_DB") is { } db)
            lines.AddRange(JournalDatabase.Parse(db, password, provider).HoconLines());
        else if (password is not null || provider is not null)
            throw new ConfigurationException(
                $"{(password is not null ? "EVOLQ_DB_PASSWORD" : "EVOLQ_DB_PROVIDER")} is set without EVOLQ_DB: name the database too.");
        if (Variable(environment, "EVOLQ_CTL_HOST") is { } ctlHost)
            lines.Add($"evolq.ctl.hostname = {Quote(ctlHost)}");
        if (Variable(environment, "EVOLQ_CTL_PORT") is { } ctlPortText)
        {
            if (!int.TryParse(ctlPortText, NumberStyles.None, CultureInfo.InvariantCulture, out var ctlPort) || ctlPort > 65535)
                throw new ConfigurationException($"EVOLQ_CTL_PORT is '{ctlPortText}', not a port number.");
            lines.Add($"evolq.ctl.port = {ctlPort.ToString(CultureInfo.InvariantCulture)}");
        }
        if (Variable(environment, "EVOLQ_CTL_TOKEN") is { } ctlToken)
            lines.Add($"evolq.ctl.token = {Quote(ctlToken)}");
        foreach (var (variable, key) in CtlLimits)
        {
            if (Variable(environment, variable) is not { } text)
                continue;
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) || limit < 1)
                throw new ConfigurationException($"{variable} is '{text}', not a whole number above zero.");
            lines.Add($"evolq.ctl.{key} = {limit.ToString(CultureInfo.InvariantCulture)}");
        }
        if (Variable(environment, "EVOLQ_CTL_IDLE_TIMEOUT") is { } idleText)
        {
            if (!int.TryParse(idleText, NumberStyles.None, CultureInfo.InvariantCulture, out var idleSeconds) || idleSeconds < 1)
                throw new ConfigurationException($"EVOLQ_CTL_IDLE_TIMEOUT is '{idleText}', not a whole number of seconds above zero.");
            lines.Add($"evolq.ctl.idle-timeout = {idleSeconds.ToString(CultureInfo.InvariantCulture)}s");
        }
        return lines.Count == 0 ? Config.Empty : ConfigurationFactory.ParseString(string.Join('\n', lines));
    }

    /// <summary>A seed written as host:port or as a full address, as the full akka.tcp (or, with TLS, akka.ssl.tcp) address.</summary>
    public static string SeedAddress(string seed, bool tls = false)
    {
        ArgumentNullException.ThrowIfNull(seed);
        // A full address is kept as written; Load puts every seed in the transport's scheme at the end.
        if (seed.StartsWith(PlainScheme, StringComparison.Ordinal) || seed.StartsWith(TlsScheme, StringComparison.Ordinal))
            return seed;
        var colon = seed.LastIndexOf(':');
        if (colon <= 0 || seed.Contains("://", StringComparison.Ordinal)
            || !int.TryParse(seed.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            throw new ConfigurationException($"The seed '{seed}' is neither host:port nor an akka.tcp:// address.");
        return $"{(tls ? TlsScheme : PlainScheme)}{SystemName}@{seed}";
    }

    /// <summary>The ctl endpoint's connection limits that an environment variable sets (docs/limits.md).</summary>
    private static readonly (string Variable, string Key)[] CtlLimits =
    [
        ("EVOLQ_CTL_MAX_CONNECTIONS", "max-connections"),
        ("EVOLQ_CTL_MAX_CONNECTIONS_PER_CLIENT", "max-connections-per-client"),
        ("EVOLQ_CTL_TOKEN_ATTEMPTS", "token-attempts"),
    ];

    private const string PlainScheme = "akka.tcp://";
    private const string TlsScheme = "akka.ssl.tcp://";

    private static string WithScheme(string address, bool tls)
    {
        if (tls && address.StartsWith(PlainScheme, StringComparison.Ordinal))
            return TlsScheme + address[PlainScheme.Length..];
        if (!tls && address.StartsWith(TlsScheme, StringComparison.Ordinal))
            return PlainScheme + address[TlsScheme.Length..];
        return address;
    }

    private static Config Embedded(string name)
    {
        var resource = $"EvolQ.Cluster.hocon.{name}.conf";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The configuration {resource} is not embedded in EvolQ.Cluster.");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }

    private static string? Variable(Func<string, string?> environment, string name) =>
        environment(name) is { } value && value.Trim().Length > 0 ? value.Trim() : null;

    private static string[] List(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
