namespace LatencySmtp.Testbed;

/// <summary>
/// One direction of the emulated link, sans-I/O: given a frame's arrival time and length it decides
/// how many copies pass (0 lost, 1, 2 duplicated) and when each leaves. Times are Stopwatch ticks
/// (nanoseconds on Linux) from the caller's clock, so tests drive it with a virtual clock.
/// Order of effects, as on a real path: loss, then the bottleneck (serialisation at the rate limit
/// behind earlier frames, tail drop when its queue is full), then propagation delay plus jitter.
/// The random source is seeded, so the same frame sequence meets the same fate in every run.
/// </summary>
public sealed class LinkDirection
{
    private readonly Random random;
    private readonly long delayTicks, jitterTicks, maxBacklogTicks, compensationTicks;
    private long lastReleaseTicks = long.MinValue;
    private long bottleneckFreeTicks = long.MinValue;

    /// <param name="compensation">The forwarding path's own latency (see <see cref="Testbed.ForwardingCompensation"/>):
    /// frames are released this much earlier, never before they arrived, so that they reach the far side on time.</param>
    public LinkDirection(LinkParameters parameters, int seed, TimeSpan compensation = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(compensation, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.Validate("link");
        Parameters = parameters;
        random = new Random(seed);
        delayTicks = ToTicks(parameters.Delay);
        jitterTicks = ToTicks(parameters.Jitter);
        compensationTicks = ToTicks(compensation);
        maxBacklogTicks = parameters.RateBitsPerSecond > 0 ? SerializationTicks(parameters.RateQueueBytes) : 0;
    }

    /// <summary>A plain delay, no randomness (the warm-up path and old callers).</summary>
    public LinkDirection(long delayTicks)
        : this(LinkParameters.WithDelay(TimeSpan.FromTicks(delayTicks * TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency)), 0)
    {
    }

    public LinkParameters Parameters { get; }
    public long DelayTicks => delayTicks;
    public long Lost { get; private set; }
    public long Duplicated { get; private set; }
    public long BottleneckDrops { get; private set; }

    /// <summary>Returns false when the frame is dropped; otherwise its (first) release time.</summary>
    public bool TryAdmit(long arrivalTicks, int frameLength, out long releaseTicks)
    {
        Span<long> releases = stackalloc long[2];
        int copies = Admit(arrivalTicks, frameLength, releases);
        releaseTicks = copies > 0 ? releases[0] : 0;
        return copies > 0;
    }

    /// <summary>Decides the frame's fate: writes the release time of each copy into
    /// <paramref name="releases"/> (length ≥ 2) and returns how many copies leave (0, 1 or 2).</summary>
    public int Admit(long arrivalTicks, int frameLength, Span<long> releases)
    {
        if (releases.Length < 2) throw new ArgumentException("room for two release times needed", nameof(releases));
        var p = Parameters;
        // Draw every random number for every frame, in a fixed order, so that one setting (say, loss)
        // does not shift the random stream another setting (jitter) sees.
        double lossDraw = random.NextDouble(), duplicateDraw = random.NextDouble(), jitterDraw = random.NextDouble();
        if (lossDraw < p.Loss)
        {
            Lost++;
            return 0;
        }
        long departure = arrivalTicks;
        if (p.RateBitsPerSecond > 0)
        {
            long start = Math.Max(arrivalTicks, bottleneckFreeTicks);
            if (start - arrivalTicks > maxBacklogTicks)
            {
                BottleneckDrops++;
                return 0;
            }
            departure = start + SerializationTicks(frameLength);
            bottleneckFreeTicks = departure;
        }
        // Uniform in [-jitter, +jitter] (netem's default without a distribution table).
        long jitter = jitterTicks == 0 ? 0 : (long)Math.Round((jitterDraw * 2 - 1) * jitterTicks);
        long release = departure + Math.Max(0, delayTicks + jitter - compensationTicks);
        // A link delivers in order (Mahimahi's FIFO) unless reordering was asked for.
        if (!p.AllowReordering) release = Math.Max(release, lastReleaseTicks);
        lastReleaseTicks = Math.Max(lastReleaseTicks, release);
        releases[0] = release;
        if (duplicateDraw < p.Duplicate)
        {
            Duplicated++;
            releases[1] = release;   // the copy follows right behind the original
            return 2;
        }
        return 1;
    }

    private long SerializationTicks(int bytes) =>
        (long)Math.Ceiling(bytes * 8.0 * System.Diagnostics.Stopwatch.Frequency / Parameters.RateBitsPerSecond);

    private static long ToTicks(TimeSpan t) => (long)Math.Round(t.Ticks * (double)System.Diagnostics.Stopwatch.Frequency / TimeSpan.TicksPerSecond);
}
