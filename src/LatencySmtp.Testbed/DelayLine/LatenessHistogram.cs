namespace LatencySmtp.Testbed;

/// <summary>How late frames left against their release time, in 1 µs buckets up to 100 ms. Single writer.</summary>
public sealed class LatenessHistogram
{
    private const int Buckets = 100_000;
    private readonly long[] counts = new long[Buckets + 1];   // the last bucket collects everything beyond

    public long Count { get; private set; }
    public TimeSpan Max { get; private set; }

    public void Record(TimeSpan lateness)
    {
        if (lateness < TimeSpan.Zero) lateness = TimeSpan.Zero;
        long micros = lateness.Ticks / 10;
        counts[Math.Min(micros, Buckets)]++;
        Count++;
        if (lateness > Max) Max = lateness;
    }

    /// <summary>The smallest bucket bound at or below which <paramref name="fraction"/> of the samples lie.</summary>
    public TimeSpan Percentile(double fraction)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fraction, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fraction, 1.0);
        if (Count == 0) return TimeSpan.Zero;
        long rank = Math.Max(1, (long)Math.Ceiling(fraction * Count)), seen = 0;
        for (int i = 0; i <= Buckets; i++)
        {
            seen += counts[i];
            if (seen >= rank) return i == Buckets ? Max : TimeSpan.FromTicks((i + 1) * 10L);
        }
        return Max;
    }
}
