using System.CommandLine;
using LatencySmtp.Experiments.Charts;
using LatencySmtp.Experiments.Results;

namespace LatencySmtp.Cli.Commands;

internal static class PlotCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("results") { Description = "result folder holding transactions.csv" };
        var cmd = new Command("plot", "Redraw a result folder's charts (and summary.csv, from its transactions.csv)") { dir };
        cmd.SetAction(pr => Endpoints.Guard(() =>
        {
            var folder = pr.GetValue(dir)!;
            if (File.Exists(Path.Combine(folder, "rate.csv")) && !File.Exists(Path.Combine(folder, "transactions.csv")))
            {
                // An emulator-accuracy run: its charts come from its summary and rate tables.
                Console.WriteLine($"redrew {string.Join(", ", LatencySmtp.Experiments.Accuracy.AccuracyRunner.Redraw(folder))} in {folder}");
                return Task.FromResult(0);
            }
            var rows = CsvFiles.ReadTransactions(Path.Combine(folder, "transactions.csv"));
            if (rows.Count == 0) throw new InvalidDataException($"{folder}/transactions.csv holds no transaction: nothing to plot (summary.csv left as it is)");
            // Delivered counts come from the server side and are not in transactions.csv: keep the old summary's.
            // A summary.csv that lacks them is not overwritten: they exist nowhere else.
            var old = File.Exists(Path.Combine(folder, "summary.csv")) ? File.ReadAllLines(Path.Combine(folder, "summary.csv")) : [];
            var summary = Statistics.Summarise(rows, r => CountFrom(old, r, "delivered"), r => CountFrom(old, r, "duplicates"));
            if (old.Length > 0 && summary.Any(c => c.Delivered < 0 || c.Duplicates < 0))
                throw new InvalidDataException($"{folder}/summary.csv lacks the delivered/duplicates counts of some cells; not rewriting it (they exist only there)");
            CsvFiles.WriteSummary(Path.Combine(folder, "summary.csv"), summary);
            LatencyChart.Write(folder, $"{Path.GetFileName(Path.GetFullPath(folder).TrimEnd('/'))}: time to accept one message", summary);
            if (LossChart.Applies(summary)) LossChart.Write(folder, $"{Path.GetFileName(Path.GetFullPath(folder).TrimEnd('/'))}: time to accept under loss", summary);
            RunCommand.PrintSummary(summary);
            return Task.FromResult(0);
        }));
        return cmd;
    }

    /// <summary>A server-side count (delivered, duplicates) of the row's cell in the previous summary.csv; -1 when absent.</summary>
    private static long CountFrom(string[] summaryLines, TransactionRow r, string column)
    {
        if (summaryLines.Length < 2) return -1;
        var header = summaryLines[0].Split(',');
        int Col(string n) => Array.IndexOf(header, n);
        static string I(double v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var line in summaryLines.Skip(1))
        {
            var f = line.Split(',');
            if (f.Length != header.Length || new[] { "variant", "rtt_ms", "size_bytes", "recipients", "loss" }.Any(c => Col(c) < 0)) return -1;
            if (f[Col("variant")] == r.Variant && f[Col("rtt_ms")] == I(r.RttMs) && f[Col("size_bytes")] == I(r.SizeBytes)
                && f[Col("recipients")] == I(r.Recipients) && f[Col("loss")] == I(r.Loss) && (Col("contact") < 0 || f[Col("contact")] == r.Contact)
                && Col(column) >= 0)
                return long.TryParse(f[Col(column)], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : -1;
        }
        return -1;
    }
}
