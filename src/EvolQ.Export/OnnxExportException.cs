namespace EvolQ.Export;

/// <summary>A model that cannot be exported (one sentence for the user).</summary>
public sealed class OnnxExportException(string message) : Exception(message);
