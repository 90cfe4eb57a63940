using System.CommandLine;
using System.Globalization;
using LatencySmtp.Experiments.Results;
using LatencySmtp.Experiments.Running;
using LatencySmtp.Experiments.Specs;
using Spectre.Console;

namespace LatencySmtp.Cli.Commands;

internal static class RunCommand
{
    public static Command Create()
    {
        var spec = new Argument<string>("experiment") { Description = "experiment spec, e.g. experiments/quick.toml" };
        var output = new Option<string?>("--out") { Description = "result folder (default: results/<experiment name>/)" };
        var cmd = new Command("run", "Run an experiment on an emulated link between network namespaces") { spec, output };
        cmd.SetAction((pr, cancel) => Endpoints.Guard(async () =>
        {
            var s = ExperimentSpec.Load(pr.GetValue(spec)!);
            Endpoints.RequireRoot("run");
            var dir = pr.GetValue(output) ?? Path.Combine("results", s.Name);
            if (s.Accuracy is not null) return await AccuracyCommand.RunAsync(s, dir, cancel);
            Console.WriteLine($"experiment {s.Name}: {s.CellCount} cell(s) x {s.Repetitions} repetitions -> {dir}");
            var outcome = await new ExperimentRunner(s, dir, Console.Out).RunAsync(Environment.GetCommandLineArgs(), cancel);
            PrintSummary(outcome.Summary);
            Console.WriteLine($"wrote {dir}/: {string.Join(", ", Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal))}");
            return outcome.Transactions.Any(r => r.Outcome != "accepted") ? 3 : 0;
        }));
        return cmd;
    }

    public static void PrintSummary(IReadOnlyList<SummaryRow> summary)
    {
        var table = new Table().Border(TableBorder.Rounded);
        foreach (var c in new[] { "variant", "contact", "rtt ms", "loss %", "size", "rcpt", "n", "accepted", "delivered", "dup", "median ms", "p10 ms", "p90 ms", "median rtt_count", "model" })
            table.AddColumn(new TableColumn(c).RightAligned());
        static string F(double v, string f = "F1") => double.IsNaN(v) ? "-" : v.ToString(f, CultureInfo.InvariantCulture);
        foreach (var r in summary)
            table.AddRow(r.Variant, r.Contact, F(r.RttMs, "g"), F(r.Loss * 100, "g"), r.SizeBytes.ToString(CultureInfo.InvariantCulture), r.Recipients.ToString(CultureInfo.InvariantCulture),
                r.N.ToString(CultureInfo.InvariantCulture), r.Accepted.ToString(CultureInfo.InvariantCulture), r.Delivered.ToString(CultureInfo.InvariantCulture),
                r.Duplicates.ToString(CultureInfo.InvariantCulture), F(r.MedianAcceptMs), F(r.P10AcceptMs), F(r.P90AcceptMs), F(r.MedianRttCount, "F3"), r.ModelRttCount.ToString(CultureInfo.InvariantCulture));
        Endpoints.WriteTable(table);
    }
}
