namespace EvolQ.Data;

/// <summary>
/// A data source named on the command line: <c>fashion-mnist:train|test[:DIR]</c>, <c>imagefolder:DIR</c>,
/// <c>npy:IMAGES.npy,LABELS.npy</c> or <c>preprocessed:IMAGES.npy,LABELS.npy</c>.
/// </summary>
/// <remarks>
/// Parsing only checks the form; <see cref="Open"/> reads the files. Every error is a <see cref="DataSourceException"/>
/// whose message is one sentence naming the spec, so the command line can show it as it is.
/// </remarks>
public sealed record DataSpec
{
    public const string Usage = "fashion-mnist:train|test[:DIR], imagefolder:DIR, npy:IMAGES.npy,LABELS.npy or preprocessed:IMAGES.npy,LABELS.npy";

    private DataSpec(string text, DataSpecKind kind, string location, string? split, string? labels)
    {
        Text = text;
        Kind = kind;
        Location = location;
        Split = split;
        LabelsPath = labels;
    }

    /// <summary>The spec as the user wrote it (stored in file metadata).</summary>
    public string Text { get; }

    public DataSpecKind Kind { get; }

    /// <summary>The folder (Fashion-MNIST, ImageFolder) or the images file (npy, preprocessed).</summary>
    public string Location { get; }

    /// <summary>Fashion-MNIST's split, "train" or "test"; null for the other kinds.</summary>
    public string? Split { get; }

    /// <summary>The labels file of an npy or preprocessed spec; null for the other kinds.</summary>
    public string? LabelsPath { get; }

    public override string ToString() => Text;

    public static DataSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var colon = trimmed.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
            throw new DataSourceException($"'{text}' is not a data spec: write {Usage}.");

        var scheme = trimmed[..colon].ToLowerInvariant();
        var rest = trimmed[(colon + 1)..];
        return scheme switch
        {
            "fashion-mnist" or "fashionmnist" => ParseFashionMnist(text, rest),
            "imagefolder" or "folder" => rest.Length > 0
                ? new DataSpec(text, DataSpecKind.ImageFolder, rest, null, null)
                : throw new DataSourceException($"Data spec '{text}' names no folder: write imagefolder:DIR."),
            "npy" => ParseArrays(text, rest, DataSpecKind.Npy, "npy"),
            "preprocessed" => ParseArrays(text, rest, DataSpecKind.Preprocessed, "preprocessed"),
            _ => throw new DataSourceException($"Data spec '{text}' has the unknown kind '{trimmed[..colon]}': write {Usage}."),
        };
    }

    /// <summary>Reads the source the spec names (Fashion-MNIST and npy files are loaded into memory).</summary>
    public ImageSource Open() => Kind switch
    {
        DataSpecKind.FashionMnist => new FashionMnistSource(Split!, Location),
        DataSpecKind.ImageFolder => new ImageFolderSource(Location),
        _ => new TensorFileSource(Location, LabelsPath!, preprocessed: Kind == DataSpecKind.Preprocessed),
    };

    private static DataSpec ParseFashionMnist(string text, string rest)
    {
        // The split comes first so that a folder may itself contain ':'.
        var colon = rest.IndexOf(':', StringComparison.Ordinal);
        var split = colon < 0 ? rest : rest[..colon];
        var folder = colon < 0 ? FashionMnistSource.DefaultDirectory : rest[(colon + 1)..];
        if (split is not ("train" or "test"))
            throw new DataSourceException($"Data spec '{text}' asks for Fashion-MNIST split '{split}': use fashion-mnist:train or fashion-mnist:test.");
        if (folder.Length == 0)
            throw new DataSourceException($"Data spec '{text}' ends in an empty folder: write fashion-mnist:{split} or fashion-mnist:{split}:DIR.");
        return new DataSpec(text, DataSpecKind.FashionMnist, folder, split, null);
    }

    private static DataSpec ParseArrays(string text, string rest, DataSpecKind kind, string scheme)
    {
        var parts = rest.Split(',');
        if (parts.Length != 2 || parts.Any(p => p.Trim().Length == 0))
            throw new DataSourceException($"Data spec '{text}' needs two files: write {scheme}:IMAGES.npy,LABELS.npy.");
        return new DataSpec(text, kind, parts[0].Trim(), null, parts[1].Trim());
    }

    /// <summary>Whether the images are held as floats (arrays), not packed 8-bit pixels: what a job's memory estimate needs.</summary>
    public bool HoldsFloatArrays => Kind is DataSpecKind.Npy or DataSpecKind.Preprocessed;
}
