using EvolQ.TensorIO;

namespace EvolQ.Data;

/// <summary>The limits of the data readers (IDX files, encoded images), checked before their memory is taken.</summary>
public static class DataLimits
{
    /// <summary>EVOLQ_MAX_DATA_FILE_BYTES: the most bytes an IDX file may declare or inflate to (default 1 GiB).</summary>
    public const string MaxDataFileBytesVariable = "EVOLQ_MAX_DATA_FILE_BYTES";

    /// <summary>EVOLQ_MAX_IMAGE_FILE_BYTES: the largest encoded image file read (default 256 MiB).</summary>
    public const string MaxImageFileBytesVariable = "EVOLQ_MAX_IMAGE_FILE_BYTES";

    /// <summary>EVOLQ_MAX_IMAGE_PIXELS: the most pixels an image may declare (default 89,478,485, Pillow's bomb limit).</summary>
    public const string MaxImagePixelsVariable = "EVOLQ_MAX_IMAGE_PIXELS";

    public static long MaxDataFileBytes => Limits.Read(MaxDataFileBytesVariable, 1L << 30);

    public static long MaxImageFileBytes => Limits.Read(MaxImageFileBytesVariable, 256L << 20);

    public static long MaxImagePixels => Limits.Read(MaxImagePixelsVariable, 89_478_485);
}
