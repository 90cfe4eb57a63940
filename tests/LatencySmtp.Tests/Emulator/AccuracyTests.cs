using LatencySmtp.Experiments.Accuracy;
using LatencySmtp.Experiments.Specs;

namespace LatencySmtp.Tests.Emulator;

public class AccuracyTests
{
    [Fact]
    public void AccuracySpecIsRecognisedByKindAndValidated()
    {
        var spec = ExperimentSpec.Parse("kind = \"emulator-accuracy\"\none_way_delay_ms = [1, 50]\nping_count = 30\nrate_pps = []\nseed = 9", "acc");
        Assert.Equal(AccuracySpec.Kind, spec.Kind);
        Assert.NotNull(spec.Accuracy);
        Assert.Equal([1.0, 50.0], spec.Accuracy.OneWayDelayMs);
        Assert.Equal(30, spec.Accuracy.PingCount);
        Assert.Equal(200, spec.Accuracy.Handshakes);   // default
        Assert.Empty(spec.Accuracy.RatePps);
        Assert.Equal(9, spec.Seed);
        Assert.Throws<ExperimentSpecException>(() => ExperimentSpec.Parse("kind = \"emulator-accuracy\"\nvariants = [\"classic\"]", "x"));
        Assert.Throws<ExperimentSpecException>(() => ExperimentSpec.Parse("kind = \"emulator-accuracy\"\none_way_delay_ms = [-1]", "x"));
        Assert.Throws<ExperimentSpecException>(() => ExperimentSpec.Parse("kind = \"emulator-accuracy\"\nping_count = 0\nhandshakes = 0", "x"));
        Assert.Throws<ExperimentSpecException>(() => ExperimentSpec.Parse("kind = \"bogus\"\nvariants = [\"classic\"]", "x"));
        Assert.Null(ExperimentSpec.Parse("variants = [\"classic\"]\nloss = [0.01]", "x").Accuracy);   // loss > 0 is accepted now
    }

    [Fact]
    public void TargetIsTheLargerOfAFifthOfAMillisecondAndOnePercent()
    {
        Assert.Equal(0.2, AccuracySpec.TargetMs(2));
        Assert.Equal(0.2, AccuracySpec.TargetMs(20));
        Assert.Equal(0.5, AccuracySpec.TargetMs(50), 9);
        Assert.Equal(2.0, AccuracySpec.TargetMs(200), 9);
    }

    [Fact]
    public void SummaryJudgesTheMedianErrorAgainstTheTargetAndCountsLostProbes()
    {
        var samples = new List<AccuracySample>();
        for (int i = 0; i < 9; i++) samples.Add(new AccuracySample("icmp", 1, 2, i, 2.1 + (i == 8 ? 5 : 0)));   // median error 0.1, one outlier
        samples.Add(new AccuracySample("icmp", 1, 2, 9, double.NaN));
        for (int i = 0; i < 5; i++) samples.Add(new AccuracySample("tcp-handshake", 1, 2, i, 2.3));             // 0.3 > 0.2
        var summary = AccuracyRunner.Summarise(samples);
        var icmp = summary.Single(r => r.Method == "icmp");
        Assert.Equal(9, icmp.N);
        Assert.Equal(1, icmp.Lost);
        Assert.Equal(0.1, icmp.MedianErrorMs, 9);
        Assert.Equal(5.1, icmp.MaxErrorMs, 9);
        Assert.True(icmp.MeetsTarget);
        Assert.False(summary.Single(r => r.Method == "tcp-handshake").MeetsTarget);
    }

    [Fact]
    public void RateStepsAreSustainedUntilLossOrATailAppears()
    {
        List<double> Flat(double v, int n, double tail = double.NaN) =>
            [.. Enumerable.Repeat(v, n - (double.IsNaN(tail) ? 0 : 5)), .. double.IsNaN(tail) ? [] : Enumerable.Repeat(tail, 5)];
        var rows = UdpFlood.Summarise(
        [
            (5000, 100, 5000, 100, Flat(0.05, 100)),
            (1000, 100, 1000, 100, Flat(0.04, 100)),
            (20000, 100, 20000, 100, Flat(0.06, 100, tail: 9)),   // p99 grew by 9 ms
            (50000, 100, 40000, 90, Flat(0.05, 90)),               // lost 10
        ], medianToleranceMs: 0.1, p99ToleranceMs: 1);
        Assert.Equal([1000.0, 5000, 20000, 50000], rows.Select(r => r.OfferedPps));
        Assert.Equal([true, true, false, false], rows.Select(r => r.Sustained));
        Assert.Equal(10, rows[3].Lost);
    }
}
