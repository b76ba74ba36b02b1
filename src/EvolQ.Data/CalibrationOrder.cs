namespace EvolQ.Data;

/// <summary>Which images of a source a calibration set takes, and in what order.</summary>
public enum CalibrationOrder
{
    /// <summary>Drawn by the seed (<see cref="CalibrationSet"/>): the original's random split, the default.</summary>
    Seeded = 0,

    /// <summary>
    /// The source's first images in file order, whatever the seed: to reproduce a reference run whose calibration
    /// images were saved to a file in the order they were used.
    /// </summary>
    File = 1,
}

/// <summary>The one spelling of each <see cref="CalibrationOrder"/> in sweep files, flags, settings and model files.</summary>
public static class CalibrationOrderNames
{
    public static IReadOnlyList<string> All { get; } = ["seeded", "file"];

    public static string Name(CalibrationOrder order) => order switch
    {
        CalibrationOrder.Seeded => "seeded",
        CalibrationOrder.File => "file",
        _ => throw new ArgumentOutOfRangeException(nameof(order), order, "Not a known calibration order."),
    };

    /// <summary>The order a name spells (exact, lowercase), or false.</summary>
    public static bool TryParse(string? text, out CalibrationOrder order)
    {
        order = text switch
        {
            "seeded" => CalibrationOrder.Seeded,
            "file" => CalibrationOrder.File,
            _ => (CalibrationOrder)(-1),
        };
        return Enum.IsDefined(order);
    }
}
