namespace EvolQ.Data;

/// <summary>The resampling filter of a resize, with Pillow's definitions (antialiased when downscaling).</summary>
public enum Interpolation
{
    /// <summary>Pillow's BICUBIC: cubic convolution with a = -0.5, support 2.</summary>
    Bicubic,

    /// <summary>Pillow's BILINEAR: the triangle filter, support 1.</summary>
    Bilinear,
}
