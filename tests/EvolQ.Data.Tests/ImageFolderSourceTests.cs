using EvolQ.Testing;
using static TorchSharp.torch;

namespace EvolQ.Data.Tests;

/// <summary>ImageFolder listing, order, loading and errors.</summary>
public sealed class ImageFolderSourceTests
{
    private static byte[] FixtureBytes(string relative) => File.ReadAllBytes(Path.Combine(Fixtures.ImagesRoot, relative));

    [Fact]
    public void Classes_and_files_are_in_torchvision_order()
    {
        var source = new ImageFolderSource(Fixtures.ImagesRoot);

        // Ordinal: upper case before lower case, unlike a culture-aware sort.
        Assert.Equal(["Zeta", "alpha", "n01440764"], source.ClassNames);
        string[] expected =
        [
            "Zeta/landscape_300x227.jpg", "Zeta/large_400x300.png", "Zeta/portrait_97x151.JPEG", "Zeta/square_64x64.png",
            "alpha/gray_120x90.png", "alpha/rgba_130x170.png", "alpha/tiny_40x30.jpg",
            "n01440764/gray_77x64.jpg", "n01440764/palette_66x50.png", "n01440764/sub/nested_50x61.png",
        ];
        Assert.Equal(expected.Length, source.Count);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(Path.Combine(Fixtures.ImagesRoot, expected[i]), source.PathOf(i));
            Assert.Equal(Array.IndexOf(["Zeta", "alpha", "n01440764"], expected[i].Split('/')[0]), source.LabelOf(i));
        }
    }

    [Fact]
    public void Nested_folders_sort_by_full_path_as_sorted_os_walk()
    {
        using var dir = new TempDirectory();
        var png = FixtureBytes("Zeta/square_64x64.png");

        // sorted(os.walk) compares whole directory paths: "c" < "c/a" < "c/a b" < "c/a/b" (' ' sorts before '/'),
        // so a nested folder's files need not follow their parent's directly (checked against Python).
        dir.File("c/z.png", png);
        dir.File("c/a/b/x.png", png);
        dir.File("c/a b/y.PNG", png);
        dir.File("c/a/w.png", png);
        dir.File("c/.hidden.png", png);
        dir.File("c/readme.md", [1, 2, 3]);
        var source = new ImageFolderSource(dir.Path);
        var names = Enumerable.Range(0, source.Count).Select(i => Path.GetRelativePath(dir.Path, source.PathOf(i))).ToArray();
        Assert.Equal(["c/.hidden.png", "c/z.png", "c/a/w.png", "c/a b/y.PNG", "c/a/b/x.png"], names);
    }

    [Fact]
    public void Load_gives_rgb_chw_in_unit_range_with_the_label()
    {
        var source = new ImageFolderSource(Fixtures.ImagesRoot);
        var gray = Fixtures.Images.Single(i => i.Id == "gray_120x90");
        var index = Enumerable.Range(0, source.Count).Single(i => source.PathOf(i) == gray.FullPath);
        (var image, var label) = source.Load(index);
        using (image)
        {
            Assert.Equal(1, label);
            Assert.Equal(new long[] { 3, 90, 120 }, image.shape);
            Assert.Equal(ScalarType.Float32, image.dtype);
            Assert.True(image.min().item<float>() >= 0f && image.max().item<float>() <= 1f);

            // A grayscale file becomes three equal channels, as convert('RGB') makes it.
            Assert.True(image[0].eq(image[1]).all().item<bool>() && image[0].eq(image[2]).all().item<bool>());
            var pillow = gray.Decoded();
            Assert.Equal(pillow[(5 * 120) + 7] / 255f, image[0, 5, 7].item<float>());
        }
    }

    [Fact]
    public void Load_with_transform_gives_the_model_input()
    {
        var source = new ImageFolderSource(Fixtures.ImagesRoot);
        var transform = EvalTransform.FromCropPct(224, 0.9, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]);
        (var image, var label) = source.Load(6, transform);
        using (image)
        {
            Assert.Equal(1, label);
            Assert.Equal(new long[] { 3, 224, 224 }, image.shape);
            Assert.True(image.min().item<float>() >= -1f && image.max().item<float>() <= 1f);
            Assert.True(image.min().item<float>() < -0.5f);
        }
    }

    [Fact]
    public void A_split_folder_of_an_imagenet_layout_is_a_source()
    {
        using var dir = new TempDirectory();
        var jpeg = FixtureBytes("alpha/tiny_40x30.jpg");
        dir.File("train/n01/a.JPEG", jpeg);
        dir.File("train/n02/b.JPEG", jpeg);
        dir.File("val/n01/c.JPEG", jpeg);
        dir.File("val/n02/d.JPEG", jpeg);
        dir.File("val/n02/e.JPEG", jpeg);
        var train = new ImageFolderSource(Path.Combine(dir.Path, "train"));
        var val = new ImageFolderSource(Path.Combine(dir.Path, "val"));
        Assert.Equal((2, 3), (train.Count, val.Count));
        Assert.Equal(train.ClassNames, val.ClassNames);
        Assert.Equal([0L, 1L, 1L], Enumerable.Range(0, 3).Select(val.LabelOf));
    }

    [Fact]
    public void Missing_folder_is_reported()
    {
        var e = Assert.Throws<DataSourceException>(() => new ImageFolderSource("/nonexistent/evolq/images"));
        Assert.Equal("The image folder '/nonexistent/evolq/images' does not exist.", e.Message);
    }

    [Fact]
    public void Folder_without_class_folders_is_reported()
    {
        using var dir = new TempDirectory();
        dir.File("loose.png", FixtureBytes("Zeta/square_64x64.png"));
        var e = Assert.Throws<DataSourceException>(() => new ImageFolderSource(dir.Path));
        Assert.Contains("has no class folders", e.Message);
        Assert.Contains(dir.Path, e.Message);
    }

    [Fact]
    public void Empty_class_folder_is_named()
    {
        using var dir = new TempDirectory();
        dir.File("cats/a.png", FixtureBytes("Zeta/square_64x64.png"));
        dir.Folder("dogs");
        dir.File("fish/notes.txt", [1]);
        var e = Assert.Throws<DataSourceException>(() => new ImageFolderSource(dir.Path));
        Assert.Contains("class folders 'dogs', 'fish' have no image files", e.Message);
    }

    [Fact]
    public void Undecodable_image_names_the_file()
    {
        using var dir = new TempDirectory();
        dir.File("cats/a.png", FixtureBytes("Zeta/square_64x64.png"));
        var bad = dir.File("cats/b.jpg", "this is not a JPEG file at all"u8.ToArray());
        var source = new ImageFolderSource(dir.Path);
        Assert.NotNull(source.Read(0).Bytes);
        var e = Assert.Throws<DataSourceException>(() => source.Read(1));
        Assert.Equal($"Cannot decode image '{bad}': it is not a JPEG, PNG, BMP or WebP image.", e.Message);
    }

    [Theory]
    [InlineData("Zeta/landscape_300x227.jpg")]
    [InlineData("Zeta/square_64x64.png")]
    public void Truncated_image_names_the_file(string fixture)
    {
        using var dir = new TempDirectory();
        var full = FixtureBytes(fixture);
        var bad = dir.File("cats/" + Path.GetFileName(fixture), full[..(full.Length / 2)]);
        var source = new ImageFolderSource(dir.Path);
        var e = Assert.Throws<DataSourceException>(() => source.Read(0));
        Assert.Equal($"Cannot decode image '{bad}': the file is truncated.", e.Message);
    }

    [Fact]
    public void Index_out_of_range_is_an_argument_error()
    {
        var source = new ImageFolderSource(Fixtures.ImagesRoot);
        Assert.Throws<ArgumentOutOfRangeException>(() => source.Read(source.Count));
        Assert.Throws<ArgumentOutOfRangeException>(() => source.LabelOf(-1));
    }
}
