using System.Globalization;

namespace LatencySmtp.Testbed;

/// <summary>
/// What the emulated link does to one direction: one-way delay, jitter (uniform in ±Jitter, like
/// netem without a distribution table), random loss, duplication and a rate limit. The same numbers
/// drive both backends: the user-space <see cref="LinkDirection"/> and netem (<see cref="NetemArguments"/>).
/// </summary>
public sealed record LinkParameters
{
    public TimeSpan Delay { get; init; }
    public TimeSpan Jitter { get; init; }
    /// <summary>Probability in [0, 1) that a frame is dropped.</summary>
    public double Loss { get; init; }
    /// <summary>Probability in [0, 1) that a frame is delivered twice.</summary>
    public double Duplicate { get; init; }
    /// <summary>Bottleneck rate in bit/s; 0: unlimited.</summary>
    public long RateBitsPerSecond { get; init; }
    /// <summary>Bytes the bottleneck queue holds before it drops at the tail (only with a rate limit).</summary>
    public int RateQueueBytes { get; init; } = 1000 * 1514;
    /// <summary>Let jitter reorder frames (netem's default). Off: a frame never overtakes its predecessor.</summary>
    public bool AllowReordering { get; init; }

    public static LinkParameters WithDelay(TimeSpan delay) => new() { Delay = delay };

    public bool IsPlainDelay => Jitter == TimeSpan.Zero && Loss == 0 && Duplicate == 0 && RateBitsPerSecond == 0;

    /// <exception cref="ArgumentException">a value out of range.</exception>
    public void Validate(string what)
    {
        if (Delay < TimeSpan.Zero || Jitter < TimeSpan.Zero) throw new ArgumentException($"{what}: delay and jitter cannot be negative");
        if (Jitter > Delay) throw new ArgumentException($"{what}: jitter {Jitter.TotalMilliseconds} ms exceeds the delay {Delay.TotalMilliseconds} ms (a frame cannot leave before it came)");
        if (Loss is < 0 or >= 1 || double.IsNaN(Loss)) throw new ArgumentException($"{what}: loss must be in [0, 1)");
        if (Duplicate is < 0 or >= 1 || double.IsNaN(Duplicate)) throw new ArgumentException($"{what}: duplicate must be in [0, 1)");
        if (RateBitsPerSecond < 0) throw new ArgumentException($"{what}: rate cannot be negative");
        if (RateQueueBytes < 1514) throw new ArgumentException($"{what}: the rate queue must hold at least one full frame");
    }

    /// <summary>"25 ms ±1 ms, loss 1%, dup 0.1%, 10 Mbit/s".</summary>
    public override string ToString()
    {
        var parts = new List<string> { $"{Ms(Delay)} ms" + (Jitter > TimeSpan.Zero ? $" ±{Ms(Jitter)} ms" : "") };
        if (Loss > 0) parts.Add($"loss {Pct(Loss)}%");
        if (Duplicate > 0) parts.Add($"dup {Pct(Duplicate)}%");
        if (RateBitsPerSecond > 0) parts.Add($"{(RateBitsPerSecond / 1e6).ToString("g", CultureInfo.InvariantCulture)} Mbit/s");
        if (AllowReordering) parts.Add("reordering");
        return string.Join(", ", parts);
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("g", CultureInfo.InvariantCulture);
    private static string Pct(double p) => (p * 100).ToString("g", CultureInfo.InvariantCulture);

    /// <summary>
    /// The seed of one direction's random source, from the testbed seed: deterministic across processes
    /// and .NET versions (no string.GetHashCode), and different for the two directions.
    /// </summary>
    public static int DirectionSeed(int testbedSeed, int direction)
    {
        // SplitMix64 finaliser: nearby seeds give unrelated streams.
        ulong z = unchecked((ulong)(uint)testbedSeed * 2 + (ulong)direction + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}
