namespace LatencySmtp.Testbed;

/// <summary>
/// What the emulated link does to one direction's frames, sans-I/O: given a frame's arrival time it
/// decides whether the frame passes and when it leaves. Only a constant one-way delay today; loss,
/// jitter and a rate limit slot in here (a drop decision, a per-frame offset, a serialization clock)
/// without touching the queue or the forwarding loop.
/// </summary>
public sealed class LinkDirection
{
    private long lastReleaseTicks = long.MinValue;

    /// <param name="delayTicks">One-way delay in Stopwatch ticks.</param>
    public LinkDirection(long delayTicks)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(delayTicks);
        DelayTicks = delayTicks;
    }

    public long DelayTicks { get; }

    /// <summary>Returns false when the link drops the frame; otherwise its release time.</summary>
    public bool TryAdmit(long arrivalTicks, int frameLength, out long releaseTicks)
    {
        _ = frameLength;   // a rate limit will need it
        // A link delivers in order (Mahimahi's FIFO): once jitter exists, a frame never overtakes its predecessor.
        releaseTicks = Math.Max(arrivalTicks + DelayTicks, lastReleaseTicks);
        lastReleaseTicks = releaseTicks;
        return true;
    }
}
