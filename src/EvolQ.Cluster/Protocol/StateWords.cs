namespace EvolQ.Cluster.Protocol;

/// <summary>
/// Job phases and sweep states as users read them, in one form wherever they appear (ctl tables and sentences, live
/// views, results files, JSON, the dashboard): the lowercase word, as the JSON has always written them.
/// </summary>
public static class StateWords
{
    public static string Word(this JobPhase phase) => phase.ToString().ToLowerInvariant();

    public static string Word(this SweepState state) => state.ToString().ToLowerInvariant();
}
