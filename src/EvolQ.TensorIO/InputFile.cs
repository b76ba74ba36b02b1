using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace EvolQ.TensorIO;

/// <summary>
/// Opens a file a user named for reading, refusing what is not a regular file before any read can block: opening a
/// FIFO waits for a writer forever, a device never ends, a symlink loop or a directory is not data.
/// </summary>
/// <remarks>
/// On Linux the file is opened non-blocking and its type read from the open descriptor (statx), so nothing can swap it
/// between the check and the read. Each parser turns the problem into its own exception type.
/// </remarks>
public static class InputFile
{
    /// <summary>
    /// Opens <paramref name="path"/> for reading; on failure throws what <paramref name="fail"/> makes of a problem
    /// phrase such as "does not exist" or "is a FIFO (named pipe), not a regular file".
    /// </summary>
    public static FileStream OpenRead(string path, Func<string, Exception> fail, int bufferSize = 1 << 16)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(fail);
        return OperatingSystem.IsLinux() ? OpenLinux(path, fail, bufferSize) : OpenPortable(path, fail, bufferSize);
    }

    /// <summary>The bytes of a whole regular file, refused before reading when it is larger than <paramref name="maxBytes"/>.</summary>
    /// <param name="tooLarge">Makes the exception for a file of the given length.</param>
    public static byte[] ReadAllBytes(string path, long maxBytes, Func<string, Exception> fail, Func<long, Exception> tooLarge)
    {
        ArgumentNullException.ThrowIfNull(tooLarge);
        using var stream = OpenRead(path, fail);
        var length = stream.Length;
        if (length > maxBytes || length > Array.MaxLength)
        {
            throw tooLarge(length);
        }

        var bytes = new byte[length];
        var got = TensorBytes.ReadAtMost(stream, bytes);
        // A file that shrank while being read: keep what is there (the parsers report it truncated).
        return got == bytes.Length ? bytes : bytes[..got];
    }

    /// <summary>
    /// Null when <paramref name="path"/> can be opened as a regular file; otherwise the problem phrase, as
    /// <see cref="OpenRead"/> would give it: for checks ahead of the read (a sweep file's checkpoints).
    /// </summary>
    public static string? WhyNotFile(string path)
    {
        string? problem = null;
        try
        {
            using var stream = OpenRead(path, p => new InvalidDataException(problem = p), bufferSize: 1);
        }
        catch (InvalidDataException) when (problem is not null)
        {
        }
        return problem;
    }

    /// <summary>
    /// Null when <paramref name="path"/> is a folder (or a link to one); otherwise the problem phrase ("does not exist",
    /// "is a file, not a folder", "is a FIFO (named pipe), not a folder"): a data folder that is a file is not missing.
    /// </summary>
    public static string? WhyNotFolder(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            return null;
        }

        if (!OperatingSystem.IsLinux())
        {
            return File.Exists(path) ? "is a file, not a folder" : "does not exist";
        }

        // The path itself, links followed (AT_FDCWD); a stat opens nothing, so a FIFO cannot make it wait.
        var status = new byte[256];
        if (Native.statx(Native.AT_FDCWD, path, 0, Native.STATX_TYPE, status) != 0)
        {
            return Describe(Marshal.GetLastPInvokeError());
        }

        var mode = BitConverter.ToUInt16(status, 28);
        return (mode & 0xF000) == 0x8000 ? "is a file, not a folder"
            : (DescribeType(mode) ?? "is not a folder").Replace("not a regular file", "not a folder", StringComparison.Ordinal);
    }

    /// <summary>The problem phrase for an errno from open(2) or statx(2).</summary>
    internal static string Describe(int errno) => errno switch
    {
        Errno.ENOENT or Errno.ENOTDIR => "does not exist",
        Errno.ELOOP => "is a symbolic link loop (or a chain of links too long to follow)",
        Errno.EACCES or Errno.EPERM => "cannot be read (permission denied)",
        Errno.ENXIO => "is not a regular file (a socket or a device without a driver)",
        Errno.ENAMETOOLONG => "has a name too long for the file system",
        _ => $"cannot be opened ({Marshal.GetPInvokeErrorMessage(errno)})",
    };

    /// <summary>The problem phrase for a file type (the S_IFMT bits of st_mode), or null for a regular file.</summary>
    internal static string? DescribeType(int mode) => (mode & 0xF000) switch
    {
        0x8000 => null,
        0x4000 => "is a directory, not a file",
        0x1000 => "is a FIFO (named pipe), not a regular file",
        0x2000 => "is a character device, not a regular file",
        0x6000 => "is a block device, not a regular file",
        0xC000 => "is a socket, not a regular file",
        _ => "is not a regular file",
    };

    private static FileStream OpenLinux(string path, Func<string, Exception> fail, int bufferSize)
    {
        var fd = Native.open(path, Native.O_RDONLY | Native.O_NONBLOCK | Native.O_CLOEXEC);
        if (fd < 0)
        {
            throw fail(Describe(Marshal.GetLastPInvokeError()));
        }

        var handle = new SafeFileHandle((IntPtr)fd, ownsHandle: true);
        try
        {
            var status = new byte[256];
            if (Native.statx(fd, "", Native.AT_EMPTY_PATH, Native.STATX_TYPE, status) != 0)
            {
                throw fail(Describe(Marshal.GetLastPInvokeError()));
            }

            // stx_mode is a u16 at offset 28 on every architecture (struct statx has one layout everywhere).
            var mode = BitConverter.ToUInt16(status, 28);
            if (DescribeType(mode) is { } problem)
            {
                throw fail(problem);
            }

            // Non-blocking was only there so that open() could not wait; reads of a regular file never block anyway,
            // but FileStream must see an ordinary descriptor.
            var flags = Native.fcntl(fd, Native.F_GETFL, 0);
            if (flags >= 0)
            {
                _ = Native.fcntl(fd, Native.F_SETFL, flags & ~Native.O_NONBLOCK);
            }

            return new FileStream(handle, FileAccess.Read, bufferSize);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static FileStream OpenPortable(string path, Func<string, Exception> fail, int bufferSize)
    {
        if (Directory.Exists(path))
        {
            throw fail("is a directory, not a file");
        }

        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw fail("does not exist");
        }
        catch (UnauthorizedAccessException)
        {
            throw fail("cannot be read (permission denied)");
        }
        catch (IOException e)
        {
            throw fail($"cannot be opened ({e.Message.Trim().TrimEnd('.')})");
        }
    }

    private static class Errno
    {
        public const int EPERM = 1;
        public const int ENOENT = 2;
        public const int ENXIO = 6;
        public const int EACCES = 13;
        public const int ENOTDIR = 20;
        public const int ENAMETOOLONG = 36;
        public const int ELOOP = 40;
    }

    // Linux's generic values (x86-64 and arm64 share them).
    private static class Native
    {
        public const int O_RDONLY = 0;
        public const int O_NONBLOCK = 0x800;
        public const int O_CLOEXEC = 0x80000;
        public const int AT_EMPTY_PATH = 0x1000;
        public const int AT_FDCWD = -100;
        public const uint STATX_TYPE = 0x1;
        public const int F_GETFL = 3;
        public const int F_SETFL = 4;

        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);

        [DllImport("libc", SetLastError = true)]
        public static extern int fcntl(int fd, int command, int argument);
    }
}
