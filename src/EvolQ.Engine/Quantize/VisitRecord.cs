namespace EvolQ.Engine.Quantize;

/// <summary>One block visit of the search: its calibration loss before and after, and the selection top-1 if any.</summary>
public sealed record VisitRecord(int Pass, int Block, string BlockName, double InitialLoss, double BestLoss, int Evaluations, double? SelectionTop1);
