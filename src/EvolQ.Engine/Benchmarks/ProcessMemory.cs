using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace EvolQ.Engine.Benchmarks;

/// <summary>The process's resident memory as the kernel counts it (what an OOM killer or a pod limit sees).</summary>
public static class ProcessMemory
{
    /// <summary>The peak resident set (VmHWM) since the process started or since the last <see cref="ResetPeak"/>.</summary>
    public static long PeakResidentBytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64;
    }

    /// <summary>Starts a new peak from the current resident set, so one process can measure several cases apart.</summary>
    /// <returns>False where the kernel offers no reset (not Linux): the peak then covers everything before.</returns>
    public static bool ResetPeak()
    {
        try
        {
            // Writing 5 to clear_refs resets VmHWM to the current VmRSS (Linux 4.0+).
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Waits for the device's queued work, so a timing covers it (CUDA runs asynchronously).</summary>
    public static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA)
            cuda.synchronize();
    }
}
