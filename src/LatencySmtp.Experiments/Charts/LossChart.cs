using LatencySmtp.Experiments.Results;
using ScottPlot;

namespace LatencySmtp.Experiments.Charts;

/// <summary>
/// loss.png / loss.svg, for experiments with more than one loss rate: median time to accept (solid) and
/// p90 (dashed) against the emulated loss, one colour per variant, and the share of transactions
/// accepted in the legend.
/// </summary>
public static class LossChart
{
    public static bool Applies(IReadOnlyList<SummaryRow> summary) => summary.Select(s => s.Loss).Distinct().Count() > 1;

    public static void Write(string directory, string title, IReadOnlyList<SummaryRow> summary)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var groups = summary.GroupBy(s => (s.Variant, s.RttMs, s.Contact)).OrderBy(g => g.Key.Variant, StringComparer.Ordinal).ToList();
        for (var i = 0; i < groups.Count; i++)
        {
            var cells = groups[i].OrderBy(s => s.Loss).ToList();
            double[] xs = cells.Select(s => s.Loss * 100).ToArray();
            var color = palette.GetColor(i);
            var median = plot.Add.Scatter(xs, cells.Select(s => s.MedianAcceptMs).ToArray());
            median.Color = color;
            median.LineWidth = 2;
            median.MarkerSize = 7;
            var accepted = cells.Sum(s => s.Accepted);
            var n = cells.Sum(s => s.N);
            median.LegendText = $"{groups[i].Key.Variant}{(groups.Select(g => g.Key.Contact).Distinct().Count() > 1 ? " " + groups[i].Key.Contact : "")}: median ({accepted}/{n} accepted)";
            var p90 = plot.Add.Scatter(xs, cells.Select(s => s.P90AcceptMs).ToArray());
            p90.Color = color;
            p90.LinePattern = LinePattern.Dashed;
            p90.MarkerSize = 0;
        }
        plot.Title(title);
        plot.XLabel("emulated loss each way (%)");
        plot.YLabel("time to accept (ms); dashed: p90");
        plot.Axes.SetLimitsY(0, summary.Where(s => !double.IsNaN(s.P90AcceptMs)).Select(s => s.P90AcceptMs).DefaultIfEmpty(1).Max() * 1.1);
        plot.Legend.Alignment = Alignment.UpperLeft;
        plot.ShowLegend();
        plot.SavePng(Path.Combine(directory, "loss.png"), 900, 540);
        plot.SaveSvg(Path.Combine(directory, "loss.svg"), 900, 540);
    }
}
