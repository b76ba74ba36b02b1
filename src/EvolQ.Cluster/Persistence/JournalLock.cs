using System.ComponentModel;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Akka.Configuration;

namespace EvolQ.Cluster.Persistence;

/// <summary>
/// Keeps a second cluster off a SQLite journal that a cluster already writes: two `evolq run`s (or a run and a node)
/// on one file would each start the same job coordinators and append the same events twice.
/// </summary>
/// <remarks>
/// Every coordinator node holds a shared lock on a file beside the journal (JOURNAL.lock) for as long as it runs; the
/// first one writes its cluster's name into it. A node of the same cluster (same seeds, or joining the founder) shares
/// the lock; a node of another cluster finds it held under another name and is refused. The locks are Linux
/// open-file-description locks (fcntl F_OFD_SETLK): the kernel drops them when their holder exits in any way, kill -9
/// included, so no stale lock is left behind; they belong to an open file rather than a process, so two nodes in one
/// process (tests) exclude each other too; and a lock turns from exclusive to shared atomically, so no other node can
/// slip in between writing the name and sharing the lock. Written by hand: .NET exposes only whole-process record
/// locks (FileStream.Lock) and flock-on-open, and no served package binds OFD locks. Elsewhere than Linux no lock
/// is taken. PostgreSQL journals are not locked: every coordinator of a Kubernetes cluster shares one.
/// </remarks>
public sealed class JournalLock : IDisposable
{
    private readonly FileStream file;

    private JournalLock(FileStream file, string journal)
    {
        this.file = file;
        Journal = journal;
    }

    /// <summary>The journal file this lock guards.</summary>
    public string Journal { get; }

    /// <summary>The lock file beside a journal file.</summary>
    public static string LockFileOf(string journal) => journal + ".lock";

    /// <summary>Locks every SQLite file the configured journal and snapshot store use, for the cluster named <paramref name="cluster"/>.</summary>
    /// <param name="cluster">What identifies the cluster this node belongs to (the founder's address or the seed list).</param>
    /// <returns>The locks held (none for PostgreSQL or in-memory databases, or off Linux); dispose them when the node stops.</returns>
    /// <exception cref="ConfigurationException">Another cluster holds a journal, or its folder cannot take the lock file (one sentence).</exception>
    public static IReadOnlyList<JournalLock> AcquireAll(Config config, string cluster)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(cluster);
        if (!OperatingSystem.IsLinux())
            return [];
        var locks = new List<JournalLock>();
        try
        {
            foreach (var journal in SqliteJournalFile.Files(config))
                locks.Add(Acquire(journal, cluster));
            return locks;
        }
        catch
        {
            foreach (var held in locks)
                held.Dispose();
            throw;
        }
    }

    /// <summary>Locks one journal file for <paramref name="cluster"/>.</summary>
    /// <exception cref="ConfigurationException">Another cluster holds it, or the lock file cannot be written (one sentence).</exception>
    public static JournalLock Acquire(string journal, string cluster)
    {
        var path = LockFileOf(journal);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"The journal '{journal}' cannot be locked: {path} cannot be opened for writing ({EvolQ.TensorIO.WritableFolder.Reason(e)}).");
        }
        try
        {
            // Shared first: a node writing its name holds the lock exclusively for a moment, and the name is whole
            // once the shared lock is granted.
            WaitForShared(file, path);
            if (TryLock(file, WriteLock))
            {
                // No other holder: whatever the file says is left by a holder that is gone.
                var name = Encoding.UTF8.GetBytes($"{cluster}\n{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}\n");
                file.SetLength(0);
                file.Write(name);
                file.Flush();
                if (!TryLock(file, ReadLock))
                    throw new IOException("the exclusive lock could not be made shared");
                return new JournalLock(file, journal);
            }
            var (holder, process) = Holder(file);
            if (holder == cluster)
                return new JournalLock(file, journal);
            throw new ConfigurationException(
                $"The journal '{journal}' is in use by another evolq cluster ({holder}, started by process {process}): stop that run or node first, or give this one another journal (--db or EVOLQ_DB).");
        }
        catch (ConfigurationException)
        {
            file.Dispose();
            throw;
        }
        catch (Exception e) when (e is IOException or Win32Exception)
        {
            file.Dispose();
            throw new ConfigurationException($"The journal '{journal}' cannot be locked with {path}: {EvolQ.TensorIO.WritableFolder.Reason(e)}.");
        }
    }

    /// <summary>Releases the lock (the kernel does the same when the process ends).</summary>
    public void Dispose() => file.Dispose();

    private static void WaitForShared(FileStream file, string path)
    {
        // A writer holds the exclusive lock for the few microseconds of writing its name; a second is plenty.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!TryLock(file, ReadLock))
        {
            if (DateTime.UtcNow > deadline)
                throw new IOException($"{path} stayed locked exclusively for 5 s");
            Thread.Sleep(10);
        }
    }

    private static (string Cluster, string Process) Holder(FileStream file)
    {
        file.Position = 0;
        var buffer = new byte[4096];
        var length = file.Read(buffer);
        var lines = Encoding.UTF8.GetString(buffer, 0, length).Split('\n');
        return (lines[0], lines.Length > 1 && lines[1].Length > 0 ? lines[1] : "?");
    }

    private const short ReadLock = 0; // F_RDLCK
    private const short WriteLock = 1; // F_WRLCK
    private const int SetOfdLock = 37; // F_OFD_SETLK (asm-generic: x86-64 and arm64 alike)
    private const int EAGAIN = 11;
    private const int EACCES = 13;

    /// <summary>Takes (or converts to) a lock of the whole file without waiting; false when another holder conflicts.</summary>
    private static bool TryLock(FileStream file, short type)
    {
        var request = new Flock { Type = type, Whence = 0, Start = 0, Length = 0, Pid = 0 };
        if (Native.fcntl(file.SafeFileHandle.DangerousGetHandle().ToInt32(), SetOfdLock, ref request) == 0)
            return true;
        var error = Marshal.GetLastPInvokeError();
        if (error is EAGAIN or EACCES)
            return false;
        throw new Win32Exception(error);
    }

    /// <summary>struct flock of Linux x86-64 and arm64.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int Pid;
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int fcntl(int fd, int command, ref Flock argument);
    }
}
