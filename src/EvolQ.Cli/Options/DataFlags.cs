using System.CommandLine;
using EvolQ.Data;

namespace EvolQ.Cli.Options;

/// <summary>Calibration and validation data flags shared by calibrate and quantize.</summary>
public sealed class DataFlags
{
    private readonly Option<string> calibrationData = new("--calib-data") { Description = $"Calibration data (ImageNet: its train folder): {DataSpec.Usage}.", Required = true };
    private readonly Option<int> calibrationSize = new("--calib-size") { Description = "Calibration images, drawn by the seed.", DefaultValueFactory = _ => 1000 };
    private readonly Option<int> calibrationBatch = new("--calib-batch") { Description = "Calibration batch size (an incomplete last batch is dropped).", DefaultValueFactory = _ => 100 };
    private readonly Option<string> calibrationOrder = new("--calib-order")
    {
        Description = "Which calibration images: seeded (drawn by the seed, the original's random split) or file (the source's first images in file order, to reproduce a reference run).",
        DefaultValueFactory = _ => CalibrationOrderNames.Name(CalibrationOrder.Seeded),
    };
    private readonly Option<long> seed = new("--seed") { Description = "Seed of the calibration draw (and of the search).", DefaultValueFactory = _ => 0 };
    private readonly Option<string?> validationData = new("--val-data") { Description = "Validation data: top-1/top-5 are measured on it." };
    private readonly Option<int?> validationLimit = new("--val-limit") { Description = "Validate on the first N images only." };
    private readonly Option<int> validationBatch = new("--val-batch") { Description = "Validation batch size.", DefaultValueFactory = _ => 100 };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { calibrationData, calibrationSize, calibrationBatch, calibrationOrder, seed, validationData, validationLimit, validationBatch })
            command.Options.Add(option);
    }

    public DataSpec CalibrationData(ParseResult parse) => DataSpec.Parse(parse.GetValue(calibrationData)!);

    public long Seed(ParseResult parse) => parse.GetValue(seed);

    public CalibrationOrder Order(ParseResult parse)
    {
        var text = parse.GetValue(calibrationOrder)!.Trim().ToLowerInvariant();
        return CalibrationOrderNames.TryParse(text, out var order)
            ? order
            : throw new UserInputException($"'{text}' is not a calibration order: use {string.Join(" or ", CalibrationOrderNames.All)}.");
    }

    /// <summary>Calibration size and batch size, checked.</summary>
    public (int Size, int Batch) Calibration(ParseResult parse)
    {
        var size = parse.GetValue(calibrationSize) is > 0 and var s ? s : throw new UserInputException("--calib-size must be positive.");
        var batch = parse.GetValue(calibrationBatch) is > 0 and var b ? b : throw new UserInputException("--calib-batch must be positive.");
        if (batch > size)
            throw new UserInputException($"--calib-batch {batch} is larger than --calib-size {size}, which leaves no full batch.");
        return (size, batch);
    }

    /// <summary>Validation data (or null), limit and batch size, checked.</summary>
    public (DataSpec? Data, int? Limit, int Batch) Validation(ParseResult parse)
    {
        var limit = parse.GetValue(validationLimit);
        if (limit is < 1)
            throw new UserInputException("--val-limit must be positive.");
        var batch = parse.GetValue(validationBatch) is > 0 and var b ? b : throw new UserInputException("--val-batch must be positive.");
        return (parse.GetValue(validationData) is { } text ? DataSpec.Parse(text) : null, limit, batch);
    }
}
