using System.Diagnostics;
using EvolQ.Testing;

namespace EvolQ.TensorIO.Tests;

/// <summary>Paths that name something other than a regular file: one sentence each, and never a hang.</summary>
public sealed class NotAFileTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    public static TheoryData<string> Readers => new() { "npy", "npz", "safetensors" };

    private static TensorFileException Read(string reader, string path)
    {
        // A reader that blocks (opening a FIFO waits for a writer) must fail the test, not stall it.
        var task = Task.Run(() => reader switch
        {
            "npy" => Assert.Throws<TensorFileException>(() => NpyFile.Read(path).Dispose()),
            "npz" => Assert.Throws<TensorFileException>(() => NpzFile.Read(path)),
            _ => Assert.Throws<TensorFileException>(() => SafeTensorsFile.Read(path).Dispose()),
        });
        Assert.True(task.Wait(TimeSpan.FromSeconds(10)), $"reading {path} as {reader} hangs");
        return task.Result;
    }

    [Theory]
    [MemberData(nameof(Readers))]
    public void A_fifo_is_refused_without_blocking(string reader)
    {
        var fifo = temp.File("pipe." + reader);
        using (var mkfifo = Process.Start("mkfifo", fifo))
        {
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        Assert.Equal($"pipe.{reader} is a FIFO (named pipe), not a regular file.", Read(reader, fifo).Message);
    }

    [Theory]
    [MemberData(nameof(Readers))]
    public void A_character_device_is_refused(string reader) =>
        Assert.Equal("zero is a character device, not a regular file.", Read(reader, "/dev/zero").Message);

    [Theory]
    [MemberData(nameof(Readers))]
    public void A_directory_is_refused(string reader)
    {
        var dir = temp.File("folder." + reader);
        Directory.CreateDirectory(dir);
        Assert.Equal($"folder.{reader} is a directory, not a file.", Read(reader, dir).Message);
    }

    [Theory]
    [MemberData(nameof(Readers))]
    public void A_symlink_loop_is_refused(string reader)
    {
        var a = temp.File("a." + reader);
        var b = temp.File("b." + reader);
        File.CreateSymbolicLink(a, b);
        File.CreateSymbolicLink(b, a);
        Assert.Equal($"a.{reader} is a symbolic link loop (or a chain of links too long to follow).", Read(reader, a).Message);
    }

    [Theory]
    [MemberData(nameof(Readers))]
    public void A_missing_file_and_a_missing_folder_do_not_exist(string reader)
    {
        Assert.Equal($"none.{reader} does not exist.", Read(reader, temp.File("none." + reader)).Message);
        Assert.Equal($"none.{reader} does not exist.", Read(reader, temp.File("no-such-dir/none." + reader)).Message);
    }

    [Fact]
    public void An_unreadable_file_is_refused()
    {
        var path = temp.File("locked.npy");
        File.WriteAllBytes(path, [1, 2, 3]);
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        File.SetUnixFileMode(path, UnixFileMode.None);
        if (Environment.UserName == "root")
        {
            // Root reads any file, so the message for EACCES is checked directly.
            Assert.Equal("cannot be read (permission denied)", InputFile.Describe(13));
            return;
        }

        Assert.Equal("locked.npy cannot be read (permission denied).", Read("npy", path).Message);
    }

    [Fact]
    public async Task What_is_not_a_file_or_not_a_folder_is_named_without_opening_it()
    {
        var fifo = temp.File("pipe");
        using (var mkfifo = Process.Start("mkfifo", fifo))
        {
            mkfifo.WaitForExit();
        }

        var file = temp.File("file.npy");
        File.WriteAllBytes(file, [1]);
        File.CreateSymbolicLink(temp.File("a"), temp.File("b"));
        File.CreateSymbolicLink(temp.File("b"), temp.File("a"));

        var checks = Task.Run(() => new[]
        {
            InputFile.WhyNotFile(fifo), InputFile.WhyNotFile(temp.Path), InputFile.WhyNotFile("/dev/null"), InputFile.WhyNotFile(temp.File("a")),
            InputFile.WhyNotFile(temp.File("none")), InputFile.WhyNotFile(file),
            InputFile.WhyNotFolder(fifo), InputFile.WhyNotFolder(file), InputFile.WhyNotFolder("/dev/null"), InputFile.WhyNotFolder(temp.File("a")),
            InputFile.WhyNotFolder(temp.File("none")), InputFile.WhyNotFolder(temp.Path),
        });
        Assert.True(await Task.WhenAny(checks, Task.Delay(TimeSpan.FromSeconds(10))) == checks, "a check of a FIFO hangs");
        Assert.Equal(
            new[]
            {
                "is a FIFO (named pipe), not a regular file", "is a directory, not a file", "is a character device, not a regular file",
                "is a symbolic link loop (or a chain of links too long to follow)", "does not exist", null,
                "is a FIFO (named pipe), not a folder", "is a file, not a folder", "is a character device, not a folder",
                "is a symbolic link loop (or a chain of links too long to follow)", "does not exist", null,
            },
            await checks);
    }

    [Fact]
    public void A_symlink_to_a_regular_file_is_read()
    {
        var target = temp.File("real.npy");
        using (var t = TestTensors.Arange(6, TorchSharp.torch.ScalarType.Float32))
        {
            NpyFile.Write(target, t);
        }

        var link = temp.File("link.npy");
        File.CreateSymbolicLink(link, target);
        using var read = NpyFile.Read(link);
        Assert.Equal(new long[] { 6 }, read.shape);
    }
}
