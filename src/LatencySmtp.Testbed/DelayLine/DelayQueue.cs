namespace LatencySmtp.Testbed;

/// <summary>
/// A bounded FIFO of (release time, frame) for one direction of the delay line (Mahimahi's delay
/// queue). Frames are copied into one preallocated byte ring, so forwarding allocates nothing and
/// memory is bounded; a frame that does not fit is dropped at the tail, like a full router queue.
/// One producer thread (the receiver) and one consumer thread (the transmitter).
/// </summary>
public sealed class DelayQueue
{
    private readonly object gate = new();
    private readonly byte[] ring;
    private readonly Entry[] entries;
    private int entryHead, entryCount;
    // Each entry owns the circular byte range from the previous tail to its end (its footprint,
    // including the gap skipped when it wrapped), so the occupied bytes are one circular range ending
    // at byteTail and a new frame fits exactly when its footprint fits into the rest.
    private int byteTail;
    private long bytesUsed;

    private readonly record struct Entry(long ReleaseTicks, int Offset, int Length, int Footprint);

    public DelayQueue(int capacityBytes = 16 << 20, int capacityFrames = 65536)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityBytes, 2048);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacityFrames);
        ring = new byte[capacityBytes];
        entries = new Entry[capacityFrames];
    }

    public int Count { get { lock (gate) return entryCount; } }
    public long OverflowDrops { get; private set; }

    /// <summary>Copies the frame in; false (and counted) when the queue is full.</summary>
    public bool TryEnqueue(long releaseTicks, ReadOnlySpan<byte> frame)
    {
        if (frame.Length > ring.Length / 2) throw new ArgumentException("frame larger than half the queue", nameof(frame));
        lock (gate)
        {
            int offset = byteTail, footprint = frame.Length;
            if (offset + frame.Length > ring.Length)
            {
                footprint += ring.Length - offset;   // the gap at the end of the ring stays unused until this frame leaves
                offset = 0;
            }
            if (entryCount == entries.Length || bytesUsed + footprint > ring.Length)
            {
                OverflowDrops++;
                return false;
            }
            frame.CopyTo(ring.AsSpan(offset));
            entries[(entryHead + entryCount) % entries.Length] = new Entry(releaseTicks, offset, frame.Length, footprint);
            entryCount++;
            bytesUsed += footprint;
            byteTail = offset + frame.Length;
            if (entryCount == 1) Monitor.Pulse(gate);
            return true;
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> for a frame; returns the head's release time.</summary>
    public bool TryPeekRelease(int timeoutMilliseconds, out long releaseTicks)
    {
        lock (gate)
        {
            if (entryCount == 0 && timeoutMilliseconds > 0) Monitor.Wait(gate, timeoutMilliseconds);
            if (entryCount == 0)
            {
                releaseTicks = 0;
                return false;
            }
            releaseTicks = entries[entryHead].ReleaseTicks;
            return true;
        }
    }

    /// <summary>The head frame. Valid until <see cref="RemoveHead"/>: only the consumer frees space, so
    /// the producer cannot overwrite it meanwhile.</summary>
    public ReadOnlySpan<byte> PeekFrame()
    {
        Entry head;
        lock (gate)
        {
            if (entryCount == 0) throw new InvalidOperationException("queue is empty");
            head = entries[entryHead];
        }
        return ring.AsSpan(head.Offset, head.Length);
    }

    public void RemoveHead()
    {
        lock (gate)
        {
            if (entryCount == 0) throw new InvalidOperationException("queue is empty");
            var head = entries[entryHead];
            entryHead = (entryHead + 1) % entries.Length;
            entryCount--;
            bytesUsed -= head.Footprint;
            if (entryCount == 0) byteTail = 0;   // empty: restart at the front, no gaps
        }
    }

    /// <summary>Wakes a consumer blocked in <see cref="TryPeekRelease"/> (used on shutdown).</summary>
    public void WakeConsumer()
    {
        lock (gate) Monitor.PulseAll(gate);
    }
}
