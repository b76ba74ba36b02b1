using EvolQ.Cluster.Ctl.Wire;

namespace EvolQ.Cluster.Ctl.Palettes;

/// <summary>
/// A named set of ctl commands. A command is one method: <c>[Command("name", "what it does")]</c> plus its
/// <see cref="ArgumentAttribute"/>/<see cref="OptionAttribute"/>/<see cref="FlagAttribute"/>s, taking a
/// <see cref="CommandCall"/> and returning a Task.
/// </summary>
public abstract class Palette(string name, string description)
{
    public string Name { get; } = name;

    public string Description { get; } = description;
}

/// <summary>Marks a palette method as a ctl command; the name may have several words ("job show").</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class CommandAttribute(string name, string description) : Attribute
{
    public string Name { get; } = name;

    public string Description { get; } = description;

    /// <summary>The command runs until the client cancels it (a tail).</summary>
    public bool Streaming { get; init; }

    /// <summary>The command reads the request's text payload (a file the client sends).</summary>
    public bool TakesPayload { get; init; }
}

/// <summary>A positional argument of a command, in declaration order.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class ArgumentAttribute(string name, string description) : Attribute
{
    public string Name { get; } = name;

    public string Description { get; } = description;

    public bool Optional { get; init; }

    /// <summary>A one-letter switch that gives the argument out of position (pbm's -s PATH, -r TYPE, -a ADDRESS).</summary>
    public string? Short { get; init; }

    /// <summary>What the value names, for completion: one of <see cref="ValueKinds"/>.</summary>
    public string? Values { get; init; }

    internal ParameterInfo Info => new(Name, Description, ParameterKind.Argument, !Optional, null, Short, Values);
}

/// <summary>An option with a value, written --name value or --name=value.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class OptionAttribute(string name, string description) : Attribute
{
    public string Name { get; } = name;

    public string Description { get; } = description;

    public string? Default { get; init; }

    /// <summary>A one-letter switch for the option (pbm's -d, -c, -l, -r).</summary>
    public string? Short { get; init; }

    /// <summary>What the value names, for completion: one of <see cref="ValueKinds"/>.</summary>
    public string? Values { get; init; }

    internal ParameterInfo Info => new(Name, Description, ParameterKind.Option, false, Default, Short, Values);
}

/// <summary>A flag, written --name.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class FlagAttribute(string name, string description) : Attribute
{
    public string Name { get; } = name;

    public string Description { get; } = description;

    internal ParameterInfo Info => new(Name, Description, ParameterKind.Flag, false, null);
}

/// <summary>The kinds of values a client can complete: it knows where to look each up on the node.</summary>
public static class ValueKinds
{
    public const string Job = "job";
    public const string Sweep = "sweep";
    public const string Address = "address";
    public const string Role = "role";
    public const string ShardType = "shard-type";
    public const string Level = "level";
}

/// <summary>A request cannot run as written (unknown command, bad argument); the message is one sentence.</summary>
public sealed class CommandUsageException(string message) : Exception(message);

/// <summary>A command ran and could not do what was asked; the message is the one sentence the client shows.</summary>
public sealed class CommandFailedException(string message) : Exception(message);
