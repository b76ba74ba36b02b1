namespace EvolQ.TensorIO;

/// <summary>Checks at the start of a command that a folder it will write into (hours later, perhaps) can be written.</summary>
public static class WritableFolder
{
    /// <summary>
    /// Creates <paramref name="folder"/> if needed and writes and deletes a probe file in it; returns why that failed
    /// ("Read-only file system", ...), or null when the folder can be written. A probe rather than the file modes:
    /// modes say nothing of a read-only mount, and root passes them all.
    /// </summary>
    public static string? WhyNot(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        try
        {
            Directory.CreateDirectory(folder);
            var probe = Path.Combine(folder, $".evolq-probe.{Environment.ProcessId}.{Guid.NewGuid():N}");
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Reason(e);
        }
    }

    /// <summary>An exception's message as the inside of a sentence: its first line, without the path .NET appends.</summary>
    public static string Reason(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var line = exception.Message.Split('\n')[0].Trim();
        // "Read-only file system : '/path/file'" — the caller names the path itself.
        var path = line.IndexOf(" : '", StringComparison.Ordinal);
        return (path > 0 ? line[..path] : line).TrimEnd('.', ' ');
    }
}
