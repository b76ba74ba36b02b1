using System.Diagnostics;
using System.Globalization;

namespace EvolQ.Testing;

/// <summary>
/// A real, small file system for storage-fault tests: a tmpfs of a given size mounted on a fresh folder, which can be
/// filled to the last byte, grown again or turned read-only (as root is not stopped by file modes, a read-only mount
/// is the only way to refuse root a write). Needs root (CAP_SYS_ADMIN); see <see cref="RootFactAttribute"/>.
/// </summary>
public sealed class SmallFileSystem : IDisposable
{
    private readonly TempDirectory folder = new("evolq-tmpfs");

    /// <summary>Mounts a tmpfs of <paramref name="bytes"/> bytes (rounded up to pages by the kernel).</summary>
    public SmallFileSystem(long bytes)
    {
        Mount("-t", "tmpfs", "-o", Size(bytes), "tmpfs", folder.Path);
    }

    public string Path => folder.Path;

    public string File(string name) => folder.File(name);

    /// <summary>Grows (or shrinks) the file system in place; the files stay.</summary>
    public void Resize(long bytes) => Mount("-o", $"remount,{Size(bytes)}", folder.Path);

    /// <summary>Turns the file system read-only (writable again with <see cref="MakeWritable"/>).</summary>
    public void MakeReadOnly() => Mount("-o", "remount,ro", folder.Path);

    public void MakeWritable() => Mount("-o", "remount,rw", folder.Path);

    /// <summary>Writes the file <paramref name="name"/> until the file system has no page left; delete it to free the space.</summary>
    public void Fill(string name)
    {
        using var file = new FileStream(File(name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
        var block = new byte[1 << 20];
        foreach (var size in new[] { 1 << 20, 4096, 1 })
        {
            try
            {
                while (true)
                    file.Write(block, 0, size);
            }
            catch (IOException)
            {
                // No space for this size: go on with a smaller one, down to the last byte.
            }
        }
    }

    /// <summary>Bytes still free.</summary>
    public long FreeBytes => new DriveInfo(folder.Path).AvailableFreeSpace;

    public void Dispose()
    {
        // Lazy: a test that failed may leave a process with a file open here.
        Run("umount", "-l", folder.Path);
        folder.Dispose();
    }

    /// <summary>Whether this process may mount file systems (root).</summary>
    public static bool Available => Environment.UserName == "root" && OperatingSystem.IsLinux();

    private static string Size(long bytes) => "size=" + bytes.ToString(CultureInfo.InvariantCulture);

    private static void Mount(params string[] arguments)
    {
        var (code, error) = Run("mount", arguments);
        if (code != 0)
            throw new InvalidOperationException($"mount {string.Join(' ', arguments)} failed ({code}): {error}");
    }

    private static (int Code, string Error) Run(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start.");
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error.Trim());
    }
}

/// <summary>A fact that mounts file systems: skipped, saying so, where the tests do not run as root.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!SmallFileSystem.Available)
            Skip = "Needs root to mount a small tmpfs (a real full or read-only file system).";
    }
}
