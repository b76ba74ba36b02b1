using System.Runtime.InteropServices;
using System.Text;

namespace EvolQ.Cli;

/// <summary>
/// Settings that native code reads only when a process starts, applied by re-executing evolq once, in place (same
/// pid, same arguments, same terminal), before anything loads libtorch.
/// </summary>
/// <remarks>
/// <para>
/// The memory allocator. libtorch takes every CPU tensor from malloc. glibc's malloc, under the allocation pattern of a
/// transformer forward (tens of MB per tensor, freed in bursts, some by libtorch's worker threads), keeps what was
/// freed instead of reusing or returning it: measured on DeiT-Tiny at 2 x 50 images, 89 MB of live tensors held
/// 2.6 GB of resident memory after a dozen evaluations, and the paper's settings ran out of 24 GB. jemalloc, which
/// PyTorch's own CPU performance guide recommends, peaks at 0.7-0.9 GB on the same run (depending on how freed pages
/// are returned, see below). It can only replace malloc when it is preloaded, hence the re-execution.
/// </para>
/// <para>
/// <c>EVOLQ_ALLOCATOR=glibc</c> keeps glibc's malloc (tuned in-process to return freed memory sooner); a missing
/// libjemalloc falls back to the same with a one-line note on stderr. Written by hand: no library re-executes a .NET
/// process with a changed native environment.
/// </para>
/// </remarks>
public static class NativeEnvironment
{
    /// <summary>Set in the re-executed process, so it does not re-execute again.</summary>
    public const string AppliedVariable = "EVOLQ_NATIVE_ENV";

    /// <summary>jemalloc (default) or glibc.</summary>
    public const string AllocatorVariable = "EVOLQ_ALLOCATOR";

    // Keep tensors of every size in the normal arenas (by default allocations over 8 MB go to an arena that returns them
    // to the kernel at once) and never give freed pages back (no decay): a forward frees and re-allocates the same large
    // activations batch after batch, and every page handed back is faulted in again by the next batch. Measured on
    // DeiT-Tiny, `evolq bench fitness --batches 2 --batch 50 --evaluations 1`: with a 10 s decay more system time than
    // user time and unfinished after 13.6 min (peak 0.72 GB so far); without decay done in 3 min 44 s, peak 0.86 GB.
    // The process's memory then stays at its peak, which is what a worker is sized for anyway (docs/benchmarks.md).
    private const string JemallocConfig = "dirty_decay_ms:-1,muzzy_decay_ms:-1,oversize_threshold:0";

    private static readonly string[] JemallocPaths =
    [
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
        "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
        "/usr/lib64/libjemalloc.so.2",
        "/usr/lib/libjemalloc.so.2",
        "/usr/local/lib/libjemalloc.so.2",
    ];

    /// <summary>The allocator this process runs with, for benchmark reports: "jemalloc" when it is mapped, else "glibc" (or "other" off Linux).</summary>
    public static string Allocator => !OperatingSystem.IsLinux() ? "other"
        : File.ReadLines("/proc/self/maps").Any(line => line.Contains("libjemalloc", StringComparison.Ordinal)) ? "jemalloc" : "glibc";

    // The commands that run models; the others (ctl, sweep, models, help) start once, without the re-execution's cost.
    private static readonly HashSet<string> ComputeCommands = ["run", "demo", "node", "quantize", "calibrate", "eval", "train", "landscape", "bench"];

    /// <summary>
    /// Re-executes the process with the native settings unless it already runs with them or the command runs no
    /// model; returns only when it does not re-execute (already applied, not Linux, opted out, or the exec failed).
    /// </summary>
    public static void Apply(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || !ComputeCommands.Contains(args[0]))
            return;
        if (!OperatingSystem.IsLinux())
            return;
        if (Environment.GetEnvironmentVariable(AppliedVariable) is not null)
        {
            if (Allocator == "glibc")
                TuneGlibc();
            return;
        }

        var wanted = Environment.GetEnvironmentVariable(AllocatorVariable)?.Trim().ToLowerInvariant();
        var jemalloc = wanted is null or "" or "jemalloc" ? JemallocPaths.FirstOrDefault(File.Exists) : null;
        if (wanted is "jemalloc" && jemalloc is null)
            Console.Error.WriteLine("evolq: note: libjemalloc.so.2 was not found (Debian: apt-get install libjemalloc2); using glibc's malloc, which holds more memory.");
        if (jemalloc is null)
        {
            TuneGlibc();
            return;
        }

        var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
        environment[AppliedVariable] = "1";
        environment["LD_PRELOAD"] = environment.TryGetValue("LD_PRELOAD", out var preload) && preload.Length > 0 ? jemalloc + ":" + preload : jemalloc;
        environment.TryAdd("MALLOC_CONF", JemallocConfig);
        Exec(environment);
        // Only reached when the exec failed: carry on as we are.
        TuneGlibc();
    }

    private static void Exec(Dictionary<string, string> environment)
    {
        // /proc/self/cmdline holds argv exactly as this process got it (apphost or `dotnet evolq.dll`), NUL-separated.
        var cmdline = File.ReadAllBytes("/proc/self/cmdline");
        var argv = Encoding.UTF8.GetString(cmdline).TrimEnd('\0').Split('\0');
        var envp = environment.Select(e => e.Key + "=" + e.Value).ToArray();
        var argvPointers = Marshal.AllocHGlobal(IntPtr.Size * (argv.Length + 1));
        var envPointers = Marshal.AllocHGlobal(IntPtr.Size * (envp.Length + 1));
        try
        {
            for (var i = 0; i < argv.Length; i++)
                Marshal.WriteIntPtr(argvPointers, i * IntPtr.Size, Marshal.StringToCoTaskMemUTF8(argv[i]));
            Marshal.WriteIntPtr(argvPointers, argv.Length * IntPtr.Size, IntPtr.Zero);
            for (var i = 0; i < envp.Length; i++)
                Marshal.WriteIntPtr(envPointers, i * IntPtr.Size, Marshal.StringToCoTaskMemUTF8(envp[i]));
            Marshal.WriteIntPtr(envPointers, envp.Length * IntPtr.Size, IntPtr.Zero);
            Console.Out.Flush();
            Console.Error.Flush();
            execve("/proc/self/exe", argvPointers, envPointers);
            Console.Error.WriteLine($"evolq: note: could not re-execute with jemalloc (errno {Marshal.GetLastPInvokeError()}); using glibc's malloc.");
        }
        finally
        {
            // Reached only when execve failed; on success this process image is gone.
            Marshal.FreeHGlobal(argvPointers);
            Marshal.FreeHGlobal(envPointers);
        }
    }

    // glibc without jemalloc: one arena for all threads (libtorch's workers otherwise each strand freed memory in an
    // arena of their own) and tensors from 1 MB up mapped directly, so freeing them returns the pages. Measured on
    // DeiT-Tiny at 2 x 50 (environment variables, same values): the same peak as jemalloc, 0.73 GB, at the cost of a
    // page fault for every new page of a large tensor.
    private static void TuneGlibc()
    {
        try
        {
            mallopt(MArenaMax, 1);
            mallopt(MMmapThreshold, 1 << 20);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Not glibc (musl, for one): its malloc has no such settings, and nothing is lost by going without.
        }
    }

    private const int MMmapThreshold = -3;
    private const int MArenaMax = -8;

    [DllImport("libc", SetLastError = true)]
    private static extern int execve(string path, IntPtr argv, IntPtr envp);

    [DllImport("libc")]
    private static extern int mallopt(int param, int value);
}
