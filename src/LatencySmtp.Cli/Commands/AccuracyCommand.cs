using System.Globalization;
using LatencySmtp.Experiments.Accuracy;
using LatencySmtp.Experiments.Specs;
using Spectre.Console;

namespace LatencySmtp.Cli.Commands;

/// <summary>`latency-smtp run` for specs of kind "emulator-accuracy".</summary>
internal static class AccuracyCommand
{
    public static async Task<int> RunAsync(ExperimentSpec spec, string dir, CancellationToken cancel)
    {
        Console.WriteLine($"experiment {spec.Name} ({AccuracySpec.Kind}) -> {dir}");
        var outcome = await new AccuracyRunner(spec, dir, Console.Out).RunAsync(Environment.GetCommandLineArgs(), cancel);
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var c in new[] { "method", "one-way ms", "rtt ms", "n", "lost", "median rtt", "median err", "p99 err", "target", "ok" })
            table.AddColumn(new TableColumn(c).RightAligned());
        static string F(double v) => double.IsNaN(v) ? "-" : v.ToString("F3", CultureInfo.InvariantCulture);
        foreach (var r in outcome.Summary)
            table.AddRow(r.Method, r.OneWayDelayMs.ToString("g", CultureInfo.InvariantCulture), r.ConfiguredRttMs.ToString("g", CultureInfo.InvariantCulture),
                r.N.ToString(CultureInfo.InvariantCulture), r.Lost.ToString(CultureInfo.InvariantCulture), F(r.MedianRttMs), F(r.MedianErrorMs),
                F(r.P99ErrorMs), F(r.TargetMs), r.MeetsTarget ? "yes" : "NO");
        Endpoints.WriteTable(table);
        foreach (var r in outcome.Rate)
            Console.WriteLine($"rate {r.OfferedPps:g} pps: sent {r.SentPps:F0} pps, lost {r.Lost}, added median {F(r.MedianAddedMs)} ms, p99 {F(r.P99AddedMs)} ms{(r.Sustained ? "" : "  (not sustained)")}");
        var sustained = outcome.Rate.TakeWhile(r => r.Sustained).LastOrDefault();
        if (outcome.Rate.Count > 0)
            Console.WriteLine(sustained is null ? "rate: not even the slowest step was sustained" : $"rate: sustained up to {sustained.OfferedPps:g} pps (next step added delay or lost packets)");
        Console.WriteLine($"backend {outcome.EmulatorBackend}; target {(outcome.TargetMet ? "met" : "NOT met")}; wrote accuracy.csv, summary.csv, rate.csv, accuracy.png, rate.png, run.json");
        return outcome.TargetMet ? 0 : 3;
    }
}
