namespace EvolQ.Engine.Quantize;

/// <summary>An output folder that cannot be used for this job (another job's files, damaged files).</summary>
public sealed class RunFolderException(string message) : Exception(message);
