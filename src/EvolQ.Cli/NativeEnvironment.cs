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
/// <para>
/// The instruction set. libtorch's three math libraries each pick kernels for the CPU they find (ATen's vectorized
/// loops, oneDNN's JIT convolutions, MKL's gemm), and kernels of different widths sum in different orders: the same
/// job on an AVX-512 node and on an AVX2 node differs in the last bits, which fake quantization turns into different
/// scales. Each library reads its cap from the environment once, when it first runs, and from the native environment,
/// which <c>Environment.SetEnvironmentVariable</c> does not change: hence the same re-execution.
/// <c>EVOLQ_CPU_ISA</c> is <c>avx2</c> (the default), <c>sse4</c>, or <c>native</c> (no cap: faster on newer CPUs, the
/// numbers then depend on the CPU); the cap overrides what the environment says for the three libraries, so a pod of
/// any CPU type computes the same bits, and the demo prints the README's table on any machine. docs/operations.md ("The same numbers on every CPU") has the cost.
/// </para>
/// </remarks>
public static class NativeEnvironment
{
    /// <summary>Set in the re-executed process, so it does not re-execute again.</summary>
    public const string AppliedVariable = "EVOLQ_NATIVE_ENV";

    /// <summary>jemalloc (default) or glibc.</summary>
    public const string AllocatorVariable = "EVOLQ_ALLOCATOR";

    /// <summary>avx2 (default), sse4 or native.</summary>
    public const string CpuIsaVariable = "EVOLQ_CPU_ISA";

    /// <summary>No cap: each library uses the best kernels for this CPU.</summary>
    public const string NativeIsa = "native";

    // Keep tensors of every size in the normal arenas (by default allocations over 8 MB go to an arena that returns them
    // to the kernel at once) and never give freed pages back (no decay): a forward frees and re-allocates the same large
    // activations batch after batch, and every page handed back is faulted in again by the next batch. Measured on
    // DeiT-Tiny, `evolq bench fitness --batches 2 --batch 50 --evaluations 1`: with a 10 s decay more system time than
    // user time and unfinished after 13.6 min (peak 0.72 GB so far); without decay done in 3 min 44 s, peak 0.86 GB.
    // The process's memory then stays at its peak, which is what a worker is sized for anyway (docs/benchmarks.md).
    private const string JemallocConfig = "dirty_decay_ms:-1,muzzy_decay_ms:-1,oversize_threshold:0";

    // A level, the /proc/cpuinfo flags it needs (ATen's AVX2 kernels need FMA too), and its values for ATen and oneDNN,
    // spelled as the libtorch TorchSharp ships accepts them (ATen: default|avx2|avx512; oneDNN: SSE41|AVX|AVX2|...).
    private sealed record IsaLevel(string Name, string[] CpuFlags, string Aten, string OneDnn);

    private static readonly IsaLevel[] Levels =
    [
        new("avx2", ["avx2", "fma"], "avx2", "AVX2"),
        new("sse4", ["sse4_1", "sse4_2"], "default", "SSE41"),
    ];

    private const string DefaultIsa = "avx2";

    // MKL's conditional numerical reproducibility: COMPATIBLE at every level, because on a CPU not made by Intel MKL
    // ignores its other branches (SSE4_2, AVX2, ...) and runs its own dispatch: on the development machine's AMD CPU
    // those values gave the uncapped bytes and only COMPATIBLE changed them, so only COMPATIBLE gives Intel and AMD nodes
    // the same gemm. Its results depend on the thread count (--threads 2 instead of 1 changed 2 of 245 calibrated
    // tensors there); ",STRICT", which lifts that, exists only for the AVX2 and AVX-512 branches, which AMD CPUs
    // ignore. So every node must also run the same number of torch threads (docs/operations.md).
    private const string MklBranch = "COMPATIBLE";

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
    /// The instruction-set level this process's math libraries are held to, for benchmark reports: the level whose
    /// values the environment holds, else "native".
    /// </summary>
    public static string CpuIsa =>
        Levels.FirstOrDefault(level => Pinned(level).All(v => Environment.GetEnvironmentVariable(v.Key) == v.Value))?.Name ?? NativeIsa;

    /// <summary>
    /// Re-executes the process with the native settings unless it already runs with them or the command runs no
    /// model; returns only when it does not re-execute (already applied, not Linux, opted out, or the exec failed).
    /// </summary>
    /// <exception cref="UserInputException">EVOLQ_CPU_ISA names no level, or one this CPU lacks.</exception>
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

        var level = ChosenLevel();
        var wanted = Environment.GetEnvironmentVariable(AllocatorVariable)?.Trim().ToLowerInvariant();
        var jemalloc = wanted is null or "" or "jemalloc" ? JemallocPaths.FirstOrDefault(File.Exists) : null;
        if (wanted is "jemalloc" && jemalloc is null)
            Console.Error.WriteLine("evolq: note: libjemalloc.so.2 was not found (Debian: apt-get install libjemalloc2); using glibc's malloc, which holds more memory.");

        var environment = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
        var changed = false;
        if (jemalloc is not null)
        {
            environment["LD_PRELOAD"] = environment.TryGetValue("LD_PRELOAD", out var preload) && preload.Length > 0 ? jemalloc + ":" + preload : jemalloc;
            environment.TryAdd("MALLOC_CONF", JemallocConfig);
            changed = true;
        }
        foreach (var (name, value) in level is null ? [] : Pinned(level))
        {
            changed |= !environment.TryGetValue(name, out var current) || current != value;
            environment[name] = value;
        }
        if (changed)
        {
            environment[AppliedVariable] = "1";
            Exec(environment);
        }
        // Not re-executed (nothing to change, or the exec failed): carry on as we are.
        if (Allocator == "glibc")
            TuneGlibc();
    }

    /// <summary>The level EVOLQ_CPU_ISA asks for and this CPU has; null for native or where the levels do not apply.</summary>
    private static IsaLevel? ChosenLevel()
    {
        var wanted = Environment.GetEnvironmentVariable(CpuIsaVariable)?.Trim().ToLowerInvariant() is { Length: > 0 } named ? named : DefaultIsa;
        if (wanted == NativeIsa)
            return null;
        var level = Levels.FirstOrDefault(l => l.Name == wanted)
            ?? throw new UserInputException($"{CpuIsaVariable} is '{wanted}': use {string.Join(", ", Levels.Select(l => l.Name))} or {NativeIsa}.");
        // The levels are x86-64's (the libtorch evolq ships is built for it alone).
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return null;
        var flags = CpuFlags();
        var missing = level.CpuFlags.Where(f => !flags.Contains(f)).ToArray();
        if (missing.Length == 0)
            return level;
        // libtorch trusts the cap it is given: a level above the CPU would end in an illegal instruction, not a message.
        var fallback = Levels.FirstOrDefault(l => l.CpuFlags.All(flags.Contains));
        if (Environment.GetEnvironmentVariable(CpuIsaVariable) is { Length: > 0 })
            throw new UserInputException($"{CpuIsaVariable} is {wanted}, but this CPU lacks {string.Join(" and ", missing)}: use {(fallback is null ? "" : fallback.Name + " or ")}{NativeIsa}.");
        Console.Error.WriteLine($"evolq: note: this CPU lacks {string.Join(" and ", missing)}, so its numbers differ from those of {wanted} nodes; "
            + (fallback is null ? "running without an instruction-set cap." : $"holding the math libraries to {fallback.Name} ({CpuIsaVariable})."));
        return fallback;
    }

    private static IEnumerable<KeyValuePair<string, string>> Pinned(IsaLevel level) =>
    [
        new("ATEN_CPU_CAPABILITY", level.Aten),
        new("ONEDNN_MAX_CPU_ISA", level.OneDnn),
        new("MKL_CBWR", MklBranch),
    ];

    private static HashSet<string> CpuFlags() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(line => line.StartsWith("flags", StringComparison.Ordinal)) is { } line
            ? line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal)
            : [];

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
            Console.Error.WriteLine($"evolq: note: could not re-execute with jemalloc and the instruction-set cap (errno {Marshal.GetLastPInvokeError()}); running without them.");
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
