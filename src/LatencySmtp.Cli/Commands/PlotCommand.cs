using System.CommandLine;
using LatencySmtp.Experiments.Charts;
using LatencySmtp.Experiments.Results;

namespace LatencySmtp.Cli.Commands;

internal static class PlotCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("results") { Description = "result folder holding transactions.csv" };
        var cmd = new Command("plot", "Redraw summary.csv and the charts of a result folder from its transactions.csv") { dir };
        cmd.SetAction(pr => Endpoints.Guard(() =>
        {
            var folder = pr.GetValue(dir)!;
            var rows = CsvFiles.ReadTransactions(Path.Combine(folder, "transactions.csv"));
            // Delivered counts come from the server side and are not in transactions.csv: keep the old summary's.
            var old = File.Exists(Path.Combine(folder, "summary.csv")) ? File.ReadAllLines(Path.Combine(folder, "summary.csv")) : [];
            var summary = Statistics.Summarise(rows, r => DeliveredFrom(old, r));
            CsvFiles.WriteSummary(Path.Combine(folder, "summary.csv"), summary);
            LatencyChart.Write(folder, $"{Path.GetFileName(Path.GetFullPath(folder).TrimEnd('/'))}: time to accept one message", summary);
            if (LossChart.Applies(summary)) LossChart.Write(folder, $"{Path.GetFileName(Path.GetFullPath(folder).TrimEnd('/'))}: time to accept under loss", summary);
            RunCommand.PrintSummary(summary);
            return Task.FromResult(0);
        }));
        return cmd;
    }

    private static long DeliveredFrom(string[] summaryLines, TransactionRow r)
    {
        if (summaryLines.Length < 2) return -1;
        var header = summaryLines[0].Split(',');
        int Col(string n) => Array.IndexOf(header, n);
        foreach (var line in summaryLines.Skip(1))
        {
            var f = line.Split(',');
            if (f[Col("variant")] == r.Variant && f[Col("rtt_ms")] == r.RttMs.ToString(System.Globalization.CultureInfo.InvariantCulture)
                && f[Col("size_bytes")] == r.SizeBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)
                && f[Col("recipients")] == r.Recipients.ToString(System.Globalization.CultureInfo.InvariantCulture))
                return long.Parse(f[Col("delivered")], System.Globalization.CultureInfo.InvariantCulture);
        }
        return -1;
    }
}
