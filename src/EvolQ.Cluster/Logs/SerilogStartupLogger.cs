using Akka.Event;
using Serilog.Events;

namespace EvolQ.Cluster.Logs;

/// <summary>
/// Akka's start-up and last-resort logger (akka.stdout-logger-class) sent to Serilog instead of stdout.
/// </summary>
/// <remarks>
/// Akka writes through this logger before akka.loggers have started and after they stop, and its StandardOutLogger
/// prints one plain line on stdout whatever akka.stdout-loglevel says; a node logging JSON, or a command whose stdout is
/// data (`evolq sweep results --format json`), must not get it. Serilog's level filter and format apply here as well.
/// </remarks>
public sealed class SerilogStartupLogger : MinimalLogger
{
    protected override void Log(object message)
    {
        if (message is not Akka.Event.LogEvent e)
            return;
        string text;
        try
        {
            text = e.Message?.ToString() ?? "";
        }
        catch (FormatException)
        {
            // A malformed template must not take the logger down; the raw template still says what happened.
            text = e.Message is LogMessage m ? m.Format : "";
        }
        // The text as a template with no holes, so that braces in it stay text.
        Serilog.Log.Logger
            .ForContext("LogSource", e.LogSource ?? "")
            .Write(AkkaLogLevels.ToSerilog(e.LogLevel()), e.Cause, text.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal));
    }
}

/// <summary>Akka's log levels and Serilog's, both ways.</summary>
public static class AkkaLogLevels
{
    /// <summary>The Serilog level of an Akka event.</summary>
    public static LogEventLevel ToSerilog(LogLevel level) => level switch
    {
        LogLevel.DebugLevel => LogEventLevel.Debug,
        LogLevel.InfoLevel => LogEventLevel.Information,
        LogLevel.WarningLevel => LogEventLevel.Warning,
        _ => LogEventLevel.Error,
    };

    /// <summary>The akka.loglevel value that publishes what a Serilog minimum level lets through, and no more.</summary>
    public static string ToAkkaSetting(LogEventLevel minimum) => minimum switch
    {
        LogEventLevel.Verbose or LogEventLevel.Debug => "DEBUG",
        LogEventLevel.Information => "INFO",
        LogEventLevel.Warning => "WARNING",
        _ => "ERROR",
    };
}
