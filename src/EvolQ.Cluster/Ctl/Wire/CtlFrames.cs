using System.Text.Json.Serialization;

namespace EvolQ.Cluster.Ctl.Wire;

/// <summary>One frame of the ctl protocol: a JSON object whose "type" names the record.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(HelloFrame), "hello")]
[JsonDerivedType(typeof(WelcomeFrame), "welcome")]
[JsonDerivedType(typeof(RefusedFrame), "refused")]
[JsonDerivedType(typeof(RequestFrame), "request")]
[JsonDerivedType(typeof(CancelFrame), "cancel")]
[JsonDerivedType(typeof(TableFrame), "table")]
[JsonDerivedType(typeof(TextFrame), "text")]
[JsonDerivedType(typeof(EndFrame), "end")]
public abstract record CtlFrame;

/// <summary>The client's first frame: the protocol version it speaks and the shared token (empty when none).</summary>
public sealed record HelloFrame(int Version, string Token, string Client) : CtlFrame;

/// <summary>The server accepted the handshake: its node address and the palettes the client may use.</summary>
public sealed record WelcomeFrame(int Version, string Node, IReadOnlyList<PaletteInfo> Palettes) : CtlFrame;

/// <summary>The server drops the connection; the reason is one sentence.</summary>
public sealed record RefusedFrame(string Reason) : CtlFrame;

/// <summary>Runs one command: its words as typed (palette, command, arguments) and an optional text payload.</summary>
public sealed record RequestFrame(long Id, IReadOnlyList<string> Words, string? Payload = null) : CtlFrame;

/// <summary>Stops the request in progress (a streaming one); the server answers with its end frame.</summary>
public sealed record CancelFrame(long Id) : CtlFrame;

/// <summary>Part of a response: a table with a title (may be empty), column headers and rows of cells.</summary>
public sealed record TableFrame(long Id, string Title, IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows) : CtlFrame;

/// <summary>Part of a response: lines of text (a streamed event, a message).</summary>
public sealed record TextFrame(long Id, string Text) : CtlFrame;

/// <summary>The last frame of a response; Message is the one sentence of a failure.</summary>
public sealed record EndFrame(long Id, EndStatus Status, string? Message = null) : CtlFrame;

/// <summary>How a request ended.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<EndStatus>))]
public enum EndStatus
{
    /// <summary>The command ran (a streaming one until it was cancelled).</summary>
    Ok,

    /// <summary>The request named no known command or had bad arguments: nothing ran.</summary>
    Usage,

    /// <summary>The command ran and failed (a time-out, a refusal by an actor).</summary>
    Failed,
}

/// <summary>A palette as the client sees it: a name and its commands.</summary>
public sealed record PaletteInfo(string Name, string Description, IReadOnlyList<CommandInfo> Commands);

/// <summary>A command of a palette: its (possibly multi-word) name and parameters.</summary>
/// <param name="Streaming">Runs until the client cancels it.</param>
/// <param name="TakesPayload">Reads a text payload (a file's content) sent with the request.</param>
public sealed record CommandInfo(string Name, string Description, IReadOnlyList<ParameterInfo> Parameters, bool Streaming, bool TakesPayload);

/// <summary>A parameter: a positional argument, an option with a value (--name value) or a flag (--name).</summary>
/// <param name="Short">A one-letter switch (-d) that sets it too; null when none. Older clients ignore it.</param>
/// <param name="Values">What its value names (a job id, a sweep id, an address, ...), for completion; null when free.</param>
public sealed record ParameterInfo(
    string Name, string Description, ParameterKind Kind, bool Required, string? Default, string? Short = null, string? Values = null);

/// <summary>How a parameter is written on the command line.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ParameterKind>))]
public enum ParameterKind
{
    /// <summary>A value in its position.</summary>
    Argument,

    /// <summary>--name value (or --name=value).</summary>
    Option,

    /// <summary>--name alone.</summary>
    Flag,
}
