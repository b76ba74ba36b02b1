namespace EvolQ.Data.Tests;

/// <summary>One image of the fixture manifest.</summary>
internal sealed record FixtureImage(string Id, string Path, string Mode, int Height, int Width, string[] Settings)
{
    public string FullPath => System.IO.Path.Combine(Fixtures.DataRoot, Path);

    public bool IsJpeg => Path.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || Path.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase);

    public byte[] Decoded() => Fixtures.ReadChw($"decoded/{Id}.u8.gz", Height, Width);

    public byte[] Resized(string setting, int crop) => Fixtures.ReadChw($"resized/{Id}.{setting}.u8.gz", crop, crop);
}
