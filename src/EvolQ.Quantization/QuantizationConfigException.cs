namespace EvolQ.Quantization;

/// <summary>A quantization setting a user chose that cannot work (bit width, observer, granularity).</summary>
public sealed class QuantizationConfigException(string message) : Exception(message);
