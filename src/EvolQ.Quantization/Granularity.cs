namespace EvolQ.Quantization;

/// <summary>One scale for the whole tensor, or one per channel.</summary>
public enum Granularity
{
    LayerWise,
    ChannelWise,
}
