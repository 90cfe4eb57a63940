using System.Globalization;
using LatencySmtp.Experiments.Specs;
using Tomlyn.Model;

namespace LatencySmtp.Experiments.Accuracy;

/// <summary>
/// An experiment of kind "emulator-accuracy": how close the emulated link's round trip comes to the
/// configured one (ICMP echo and TCP handshakes per one-way delay), and the packet rate the emulator
/// carries before it adds delay of its own (a timestamped UDP flood at increasing rates).
/// </summary>
public sealed record AccuracySpec
{
    public const string Kind = "emulator-accuracy";

    public IReadOnlyList<double> OneWayDelayMs { get; init; } = [1, 10, 25, 50, 100];
    public int PingCount { get; init; } = 200;
    public double PingIntervalMs { get; init; } = 10;
    public int Handshakes { get; init; } = 200;
    public double HandshakeGapMs { get; init; } = 10;
    /// <summary>Unrecorded probes before each measured series (JIT, first-packet costs).</summary>
    public int Warmup { get; init; } = 5;
    public IReadOnlyList<double> RatePps { get; init; } = [1000, 2000, 5000, 10_000, 20_000, 50_000];
    public double RateOneWayDelayMs { get; init; } = 10;
    public double RateDurationSeconds { get; init; } = 1;
    public int RatePayloadBytes { get; init; } = 64;
    /// <summary>A rate counts as sustained while the median added delay stays within this of the slowest rate's, with no loss.</summary>
    public double RateAddedDelayToleranceMs { get; init; } = 0.1;
    /// <summary>... and its p99 added delay within this of the slowest rate's p99.</summary>
    public double RateP99ToleranceMs { get; init; } = 1;

    public static readonly string[] Keys =
    [
        "one_way_delay_ms", "ping_count", "ping_interval_ms", "handshakes", "handshake_gap_ms", "accuracy_warmup", "rate_pps",
        "rate_one_way_delay_ms", "rate_duration_s", "rate_payload_bytes", "rate_added_delay_tolerance_ms", "rate_p99_tolerance_ms",
    ];

    internal static AccuracySpec FromToml(TomlTable t)
    {
        double Num(string key, double fallback) => t.TryGetValue(key, out var v) ? Convert.ToDouble(v, CultureInfo.InvariantCulture) : fallback;
        int Int(string key, int fallback) => t.TryGetValue(key, out var v) ? checked((int)Convert.ToInt64(v, CultureInfo.InvariantCulture)) : fallback;
        List<double>? List(string key) => t.TryGetValue(key, out var v) ? v switch
        {
            TomlArray a => a.Select(x => Convert.ToDouble(x, CultureInfo.InvariantCulture)).ToList(),
            long or double => [Convert.ToDouble(v, CultureInfo.InvariantCulture)],
            _ => throw new ExperimentSpecException($"'{key}' must be a number or an array of numbers"),
        } : null;
        var d = new AccuracySpec();
        var spec = new AccuracySpec
        {
            OneWayDelayMs = List("one_way_delay_ms") ?? d.OneWayDelayMs,
            PingCount = Int("ping_count", d.PingCount),
            PingIntervalMs = Num("ping_interval_ms", d.PingIntervalMs),
            Handshakes = Int("handshakes", d.Handshakes),
            HandshakeGapMs = Num("handshake_gap_ms", d.HandshakeGapMs),
            Warmup = Int("accuracy_warmup", d.Warmup),
            RatePps = List("rate_pps") ?? d.RatePps,
            RateOneWayDelayMs = Num("rate_one_way_delay_ms", d.RateOneWayDelayMs),
            RateDurationSeconds = Num("rate_duration_s", d.RateDurationSeconds),
            RatePayloadBytes = Int("rate_payload_bytes", d.RatePayloadBytes),
            RateAddedDelayToleranceMs = Num("rate_added_delay_tolerance_ms", d.RateAddedDelayToleranceMs),
            RateP99ToleranceMs = Num("rate_p99_tolerance_ms", d.RateP99ToleranceMs),
        };
        spec.Validate();
        return spec;
    }

    public void Validate()
    {
        if (OneWayDelayMs.Count == 0 || OneWayDelayMs.Any(x => x is < 0 or > 5000)) throw new ExperimentSpecException("'one_way_delay_ms' values must be 0..5000");
        if (PingCount is < 0 or > 100_000 || Handshakes is < 0 or > 100_000) throw new ExperimentSpecException("'ping_count' and 'handshakes' must be 0..100000");
        if (PingCount + Handshakes == 0) throw new ExperimentSpecException("nothing to measure: 'ping_count' and 'handshakes' are both 0");
        if (PingIntervalMs is < 0.1 or > 10_000 || HandshakeGapMs is < 0 or > 10_000) throw new ExperimentSpecException("'ping_interval_ms' must be 0.1..10000, 'handshake_gap_ms' 0..10000");
        if (Warmup is < 0 or > 1000) throw new ExperimentSpecException("'accuracy_warmup' must be 0..1000");
        if (RatePps.Any(x => x is < 1 or > 1_000_000)) throw new ExperimentSpecException("'rate_pps' values must be 1..1000000");
        if (RateOneWayDelayMs is < 0 or > 5000 || RateDurationSeconds is <= 0 or > 60) throw new ExperimentSpecException("'rate_one_way_delay_ms' must be 0..5000, 'rate_duration_s' in (0, 60]");
        if (RatePayloadBytes is < 16 or > 1472) throw new ExperimentSpecException("'rate_payload_bytes' must be 16..1472");
        if (RateAddedDelayToleranceMs is < 0 or > 1000 || RateP99ToleranceMs is < 0 or > 1000)
            throw new ExperimentSpecException("'rate_added_delay_tolerance_ms' and 'rate_p99_tolerance_ms' must be 0..1000");
    }

    /// <summary>The target of issue 5: median error at most max(0.2 ms, 1 % of the RTT).</summary>
    public static double TargetMs(double configuredRttMs) => Math.Max(0.2, 0.01 * configuredRttMs);
}
