using Akka.Configuration;
using EvolQ.Cluster.Logs;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Formatting.Display;

namespace EvolQ.Cli.Logging;

/// <summary>The level and format of one command's logs, and the Serilog logger that writes them on its error writer.</summary>
public sealed class LogSettings
{
    /// <summary>The text layout: time, level, where from, the message (and an exception's trace on the lines after).</summary>
    public const string TextTemplate = "{Timestamp:HH:mm:ss.fff} {Level:u3} [{LogSource}] {Message:lj}{NewLine}{Exception}";

    public LogSettings(LogEventLevel minimum, bool json)
    {
        Minimum = minimum;
        Json = json;
    }

    /// <summary>Events below this level are not written (nor published by Akka).</summary>
    public LogEventLevel Minimum { get; }

    /// <summary>One JSON object per line (Serilog's compact format, CLEF) instead of text lines.</summary>
    public bool Json { get; }

    /// <summary>What commands run with when the command line was not parsed (a parse error, say).</summary>
    public static LogSettings Default { get; } = new(LogEventLevel.Information, json: false);

    /// <summary>The akka.loglevel a node of this command starts with (it lays this over its HOCON).</summary>
    public Config AkkaConfig() => ConfigurationFactory.ParseString($"akka.loglevel = {AkkaLogLevels.ToAkkaSetting(Minimum)}");

    /// <summary>A logger with these settings on <paramref name="writer"/>.</summary>
    public Logger CreateLogger(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ITextFormatter formatter = Json
            ? new RenderedCompactJsonFormatter()
            : new MessageTemplateTextFormatter(TextTemplate, System.Globalization.CultureInfo.InvariantCulture);
        return new LoggerConfiguration()
            .MinimumLevel.Is(Minimum)
            // Akka's events carry their own source (an actor path, "Cluster", ...); the command's own say "evolq".
            .Enrich.WithProperty("LogSource", "evolq")
            .WriteTo.Sink(new WriterSink(writer, formatter))
            .CreateLogger();
    }

    /// <summary>A message as a Serilog template that renders to exactly the text: braces in it are not holes.</summary>
    public static string Literal(string text) => text.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal);

    /// <summary>
    /// Makes <paramref name="logger"/> Serilog's shared logger, which Akka's loggers write to, until the result is
    /// disposed; then the previous one is back. Only commands that run an actor system install it, so that a command
    /// run in-process beside another node (tests) does not take that node's events.
    /// </summary>
    public static IDisposable Install(Logger logger)
    {
        var previous = Log.Logger;
        Log.Logger = logger;
        return new Restore(previous);
    }

    private sealed class Restore(ILogger previous) : IDisposable
    {
        public void Dispose() => Log.Logger = previous;
    }

    /// <summary>
    /// Formats each event onto one writer. Not Serilog's console sink: a command writes where it was told (tests pass
    /// string writers), and lines from Akka's threads must not interleave.
    /// </summary>
    private sealed class WriterSink(TextWriter writer, ITextFormatter formatter) : ILogEventSink
    {
        private readonly Lock gate = new();

        public void Emit(LogEvent logEvent)
        {
            using var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
            formatter.Format(logEvent, text);
            lock (gate)
            {
                writer.Write(text.ToString());
                writer.Flush();
            }
        }
    }
}
