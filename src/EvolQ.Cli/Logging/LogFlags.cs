using System.CommandLine;
using System.CommandLine.Parsing;
using Serilog.Events;

namespace EvolQ.Cli.Logging;

/// <summary>--log-level and --log-format: on every command (recursive options of the root), with EVOLQ_* fallbacks.</summary>
internal static class LogFlags
{
    public const string LevelVariable = "EVOLQ_LOG_LEVEL";
    public const string FormatVariable = "EVOLQ_LOG_FORMAT";

    /// <summary>Commands whose output is the user's view (progress, results): their default level is warning.</summary>
    private static readonly string[] QuietCommands = ["run", "demo"];

    public static Option<string?> CreateLevel() => new("--log-level")
    {
        Description = $"Log level: debug, info, warning or error; default {LevelVariable}, else info (warning for run and demo).",
        Recursive = true,
    };

    public static Option<string?> CreateFormat() => new("--log-format")
    {
        Description = $"Log format on stderr: text, or json (one JSON object per line, CLEF); default {FormatVariable}, else text.",
        Recursive = true,
    };

    /// <summary>The settings a parsed command line asks for: flag, then variable, then the command's default.</summary>
    /// <exception cref="UserInputException">A level or format is not one of the names above (one sentence).</exception>
    public static LogSettings Resolve(ParseResult parse, Option<string?> level, Option<string?> format, Func<string, string?> environment)
    {
        // Only the top-level `evolq run` and `evolq demo`: the root's direct children.
        var quiet = QuietCommands.Contains(parse.CommandResult.Command.Name, StringComparer.Ordinal)
            && parse.CommandResult.Parent is CommandResult { Parent: null };
        var (levelText, levelFrom) = Pick(parse.GetValue(level), level.Name, environment(LevelVariable), LevelVariable);
        var (formatText, formatFrom) = Pick(parse.GetValue(format), format.Name, environment(FormatVariable), FormatVariable);
        var minimum = levelText is null ? (quiet ? LogEventLevel.Warning : LogEventLevel.Information)
            : ParseLevel(levelText) ?? throw new UserInputException($"{levelFrom} is '{levelText}': use debug, info, warning or error.");
        var json = formatText?.ToLowerInvariant() switch
        {
            null or "text" => false,
            "json" => true,
            _ => throw new UserInputException($"{formatFrom} is '{formatText}': use text or json."),
        };
        return new LogSettings(minimum, json);
    }

    private static (string? Text, string From) Pick(string? flag, string flagName, string? variable, string variableName) =>
        flag is not null ? (flag, flagName) : variable is { Length: > 0 } ? (variable, variableName) : (null, flagName);

    private static LogEventLevel? ParseLevel(string text) => text.ToLowerInvariant() switch
    {
        "debug" => LogEventLevel.Debug,
        "info" or "information" => LogEventLevel.Information,
        "warning" or "warn" => LogEventLevel.Warning,
        "error" => LogEventLevel.Error,
        _ => null,
    };
}
