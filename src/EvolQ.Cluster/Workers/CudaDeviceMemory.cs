using System.Runtime.InteropServices;

namespace EvolQ.Cluster.Workers;

/// <summary>
/// The total memory of a CUDA device, from the driver API (libcuda), which TorchSharp does not expose. The driver
/// calls used (cuInit, cuDeviceGet, cuDeviceTotalMem) create no context and change no thread's current device.
/// </summary>
internal static class CudaDeviceMemory
{
    private const string Driver = "libcuda.so.1";

    /// <summary>The device's memory in bytes; 0 when there is no driver or no such device.</summary>
    public static long TotalBytes(int ordinal)
    {
        try
        {
            if (!NativeLibrary.TryLoad(Driver, out _))
                return 0;
            return CuInit(0) == 0 && CuDeviceGet(out var device, ordinal) == 0 && CuDeviceTotalMem(out var bytes, device) == 0
                ? (long)bytes
                : 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return 0;
        }
    }

    // Blittable signatures only, so the runtime marshals nothing (no unsafe code or source generator needed).
    [DllImport(Driver, EntryPoint = "cuInit")]
    private static extern int CuInit(uint flags);

    [DllImport(Driver, EntryPoint = "cuDeviceGet")]
    private static extern int CuDeviceGet(out int device, int ordinal);

    [DllImport(Driver, EntryPoint = "cuDeviceTotalMem_v2")]
    private static extern int CuDeviceTotalMem(out nuint bytes, int device);
}
