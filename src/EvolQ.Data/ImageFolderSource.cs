using EvolQ.TensorIO;

namespace EvolQ.Data;

/// <summary>torchvision's ImageFolder: <c>root/&lt;class&gt;/**/&lt;image&gt;</c>, with the same class and image order.</summary>
/// <remarks>
/// Classes are the sub-folders of the root sorted by code point; a class's images are all files under its folder
/// (recursively, following links) whose extension is one of torchvision's image extensions, ordered as
/// <c>sorted(os.walk(...))</c> then <c>sorted(fnames)</c> order them. The same order gives the same indices, so a
/// seeded draw picks the same images as on a machine that lists the folder with Python. Files are decoded when read
/// (see <see cref="ImageDecoder"/>): JPEG and PNG, and BMP/WebP where SkiaSharp decodes them. For ImageNet, make one
/// source per split folder (<c>root/train</c>, <c>root/val</c>).
/// </remarks>
public sealed class ImageFolderSource : ImageSource
{
    // torchvision.datasets.folder.IMG_EXTENSIONS: listing the same files keeps indices equal even where a file
    // cannot be decoded here (that image then fails with its name instead of silently shifting every index).
    private static readonly string[] Extensions =
        [".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"];

    private readonly string[] classes;
    private readonly string[] paths;
    private readonly int[] labels;

    /// <summary>Lists <paramref name="root"/>; nothing is decoded yet.</summary>
    public ImageFolderSource(string root)
    {
        ArgumentNullException.ThrowIfNull(root);
        Root = Path.GetFullPath(root);
        if (InputFile.WhyNotFolder(Root) is { } problem)
        {
            throw new DataSourceException($"The image folder '{root}' {problem}.");
        }

        // Python's os.scandir sees hidden entries too; .NET skips them unless told not to.
        var options = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false };
        classes = Listed(root, () => Directory.EnumerateDirectories(Root, "*", options)
            .Select(d => Path.GetFileName(d))
            .Order(CodePointComparer.Instance)
            .ToArray());
        if (classes.Length == 0)
        {
            throw new DataSourceException($"The image folder '{root}' has no class folders (expected {root}/<class>/<image>).");
        }

        var paths = new List<string>();
        var labels = new List<int>();
        var empty = new List<string>();
        for (var label = 0; label < classes.Length; label++)
        {
            var before = paths.Count;
            foreach (var file in Listed(root, () => ListImages(Path.Combine(Root, classes[label])).ToArray()))
            {
                paths.Add(file);
                labels.Add(label);
            }

            if (paths.Count == before)
            {
                empty.Add(classes[label]);
            }
        }

        if (empty.Count > 0)
        {
            var which = empty.Count == 1 ? $"class folder '{empty[0]}' has" : $"class folders {string.Join(", ", empty.Select(e => $"'{e}'"))} have";
            throw new DataSourceException(
                $"In image folder '{root}' the {which} no image files ({string.Join(", ", Extensions)}).");
        }

        this.paths = paths.ToArray();
        this.labels = labels.ToArray();
    }

    /// <summary>The folder this source lists (absolute).</summary>
    public string Root { get; }

    /// <inheritdoc/>
    public override int Count => this.paths.Length;

    /// <inheritdoc/>
    public override IReadOnlyList<string> ClassNames => classes;

    /// <inheritdoc/>
    public override string Description => $"image folder '{Root}'";

    /// <summary>The file of image <paramref name="index"/>.</summary>
    public string PathOf(int index)
    {
        CheckIndex(index);
        return this.paths[index];
    }

    /// <inheritdoc/>
    public override long LabelOf(int index)
    {
        CheckIndex(index);
        return this.labels[index];
    }

    /// <inheritdoc/>
    public override RawImage Read(int index)
    {
        CheckIndex(index);
        return ImageDecoder.DecodeRgb(this.paths[index]);
    }

    /// <summary>
    /// Runs a listing of the folder: a folder in it that cannot be read (no permission, an I/O error) is this source's
    /// error, named in one sentence, not a crash of the process that lists it.
    /// </summary>
    private static T Listed<T>(string root, Func<T> list)
    {
        try
        {
            return list();
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new DataSourceException($"The image folder '{root}' cannot be listed ({e.Message.Trim().TrimEnd('.')}).", e);
        }
    }

    /// <summary>Image files under <paramref name="classDir"/> in torchvision's order.</summary>
    private static IEnumerable<string> ListImages(string classDir)
    {
        // sorted(os.walk(d)) orders by directory path, then each directory's names are sorted: collect (dir, name).
        var options = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = true };
        return Directory.EnumerateFiles(classDir, "*", options)
            .Where(f => Extensions.Any(e => f.EndsWith(e, StringComparison.OrdinalIgnoreCase)))
            .Select(f => (Dir: Path.GetDirectoryName(f)!, Name: Path.GetFileName(f), Full: f))
            .OrderBy(t => t.Dir, CodePointComparer.Instance)
            .ThenBy(t => t.Name, CodePointComparer.Instance)
            .Select(t => t.Full);
    }
}
