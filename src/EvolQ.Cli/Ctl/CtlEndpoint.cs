using System.Globalization;

namespace EvolQ.Cli.Ctl;

/// <summary>Where a node's ctl endpoint is: host and port, written host:port (the port defaults to 9110).</summary>
public sealed record CtlEndpoint(string Host, int Port)
{
    public const int DefaultPort = 9110;

    /// <summary>The endpoint of a node on this machine.</summary>
    public static CtlEndpoint Local { get; } = new("127.0.0.1", DefaultPort);

    /// <summary>Whether a word on the command line is meant as an endpoint rather than a palette name.</summary>
    public static bool Looks(string word) => word.Contains(':', StringComparison.Ordinal);

    /// <exception cref="UserInputException">The text is not host:port (one sentence).</exception>
    public static CtlEndpoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.LastIndexOf(':');
        var host = colon < 0 ? text : text[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
            host = host[1..^1];
        var port = DefaultPort;
        if (host.Length == 0
            || (colon >= 0 && (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)))
            throw new UserInputException($"'{text}' is not a node's ctl endpoint: write host:port, for example 127.0.0.1:{DefaultPort}.");
        return new CtlEndpoint(host, port);
    }

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
