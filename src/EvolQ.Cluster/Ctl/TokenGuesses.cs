using System.Net;

namespace EvolQ.Cluster.Ctl;

/// <summary>
/// Slows down guessing the ctl token: after a few wrong tokens from one client address, that address must wait before
/// the node looks at its next token, and each further wrong token doubles the wait (up to a cap). A right token
/// clears the address's record. Plain state with the clock passed in, so that it is tested without sockets or time.
/// </summary>
/// <remarks>
/// Memory is bounded: at most <see cref="Capacity"/> addresses are remembered; beyond that the one whose last wrong
/// token is oldest is forgotten (an attacker with many addresses gains a fresh allowance per address, no more).
/// </remarks>
public sealed class TokenGuesses
{
    /// <summary>The most client addresses remembered at once.</summary>
    public const int Capacity = 4096;

    private readonly int freeAttempts;
    private readonly TimeSpan firstDelay;
    private readonly TimeSpan maxDelay;
    private readonly Dictionary<IPAddress, (int Failures, DateTime Last, DateTime Until)> clients = [];
    private readonly Lock gate = new();

    /// <param name="freeAttempts">Wrong tokens an address may send before it has to wait.</param>
    /// <param name="firstDelay">The first wait; each further wrong token doubles it.</param>
    /// <param name="maxDelay">The longest wait.</param>
    public TokenGuesses(int freeAttempts, TimeSpan firstDelay, TimeSpan maxDelay)
    {
        this.freeAttempts = freeAttempts;
        this.firstDelay = firstDelay;
        this.maxDelay = maxDelay;
    }

    /// <summary>Addresses remembered now.</summary>
    public int Count
    {
        get
        {
            lock (gate)
                return clients.Count;
        }
    }

    /// <summary>How long <paramref name="client"/> must still wait before its token is looked at; null when it need not.</summary>
    public TimeSpan? Wait(IPAddress client, DateTime now)
    {
        lock (gate)
        {
            if (!clients.TryGetValue(client, out var record))
                return null;
            // A client quiet for long enough starts afresh.
            if (now - record.Last > Forget)
            {
                clients.Remove(client);
                return null;
            }
            return record.Until > now ? record.Until - now : null;
        }
    }

    /// <summary>Records a wrong token from <paramref name="client"/>.</summary>
    public void Failed(IPAddress client, DateTime now)
    {
        lock (gate)
        {
            var failures = clients.TryGetValue(client, out var record) && now - record.Last <= Forget ? record.Failures + 1 : 1;
            var over = failures - freeAttempts;
            var until = over <= 0
                ? now
                : now + TimeSpan.FromTicks(Math.Min(maxDelay.Ticks, firstDelay.Ticks << Math.Min(over - 1, 30)));
            if (!clients.ContainsKey(client) && clients.Count >= Capacity)
                clients.Remove(clients.MinBy(c => c.Value.Last).Key);
            clients[client] = (failures, now, until);
        }
    }

    /// <summary>A right token: <paramref name="client"/>'s wrong ones are forgotten.</summary>
    public void Succeeded(IPAddress client)
    {
        lock (gate)
            clients.Remove(client);
    }

    /// <summary>Wrong tokens older than this (counted from the last one) are forgotten.</summary>
    private TimeSpan Forget => maxDelay * 10;
}
