using System.Runtime.InteropServices;

namespace EvolQ.Cli;

/// <summary>A token cancelled by Ctrl+C (SIGINT) or SIGTERM, so a long command can stop cleanly instead of dying.</summary>
/// <remarks>
/// Akka's own SIGTERM hook (akka.coordinated-shutdown.run-by-clr-shutdown-hook) is off in hocon/base.conf: it would
/// shut the actor system down and let the process exit under the command's feet, before a graceful leave.
/// </remarks>
public sealed class StopSignal : IDisposable
{
    private readonly CancellationTokenSource source = new();
    private readonly PosixSignalRegistration interrupt;
    private readonly PosixSignalRegistration terminate;

    public StopSignal()
    {
        interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    }

    public CancellationToken Token => source.Token;

    public bool Stopped => source.IsCancellationRequested;

    public void Dispose()
    {
        interrupt.Dispose();
        terminate.Dispose();
        source.Dispose();
    }

    private void Stop(PosixSignalContext context)
    {
        // The command ends itself (graceful leave, saved state); the runtime must not kill the process first.
        context.Cancel = true;
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // A signal that arrives while the command is already ending changes nothing.
        }
    }
}
