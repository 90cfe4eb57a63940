using LatencySmtp.Experiments.Results;
using ScottPlot;

namespace LatencySmtp.Experiments.Charts;

/// <summary>
/// latency.png / latency.svg: per variant (and RTT), the measured median time to accept with its
/// p10–p90 range beside the RFC round-trip model (model RTTs × emulated RTT).
/// </summary>
public static class LatencyChart
{
    public static void Write(string directory, string title, IReadOnlyList<SummaryRow> summary)
    {
        var plot = new Plot();
        var measuredColor = Colors.SteelBlue;
        var modelColor = Colors.Orange.WithAlpha(0.75);
        var cells = summary.OrderBy(s => s.RttMs).ThenBy(s => s.Loss).ThenBy(s => VariantOrder(s.Variant)).ThenBy(s => s.Contact, StringComparer.Ordinal).ToList();
        var contacts = cells.Select(s => s.Contact).Distinct().Count() > 1;
        var ticks = new List<Tick>();
        var bars = new List<Bar>();
        for (var i = 0; i < cells.Count; i++)
        {
            var c = cells[i];
            var x = i * 3.0;
            var median = double.IsNaN(c.MedianAcceptMs) ? 0 : c.MedianAcceptMs;
            bars.Add(new Bar
            {
                Position = x,
                Value = median,
                FillColor = measuredColor,
                Error = 0,
                Label = double.IsNaN(c.MedianAcceptMs) ? "n/a" : $"{c.MedianAcceptMs:F0}",
            });
            var model = c.ModelRttCount * c.RttMs;
            bars.Add(new Bar { Position = x + 1, Value = model, FillColor = modelColor, Label = $"{model:F0}" });
            var name = contacts ? $"{c.Variant}\n{c.Contact}" : c.Variant;
            var label = cells.Select(s => s.RttMs).Distinct().Count() > 1 ? $"{name}\n{c.RttMs:g} ms" : name;
            if (cells.Select(s => s.Loss).Distinct().Count() > 1) label += $"\n{c.Loss * 100:g} % loss";
            ticks.Add(new Tick(x + 0.5, label));
            if (!double.IsNaN(c.P10AcceptMs))
            {
                var range = plot.Add.Line(x, c.P10AcceptMs, x, c.P90AcceptMs);
                range.LineColor = Colors.Black;
                range.LineWidth = 2;
            }
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 12;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        plot.Axes.Margins(bottom: 0);
        // Headroom above the tallest bar so the legend never covers one.
        var top = cells.SelectMany(c => new[] { c.P90AcceptMs, c.MedianAcceptMs, c.ModelRttCount * c.RttMs }).Where(v => !double.IsNaN(v)).DefaultIfEmpty(1).Max();
        plot.Axes.SetLimitsY(0, top * 1.3);
        plot.Title(title);
        plot.YLabel("time to accept (ms)");
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "measured median (line: p10–p90)", FillColor = measuredColor });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "RFC model (RTTs × RTT)", FillColor = modelColor });
        plot.Legend.Alignment = Alignment.UpperRight;
        plot.ShowLegend();
        var width = Math.Max(640, 160 * cells.Count);
        plot.SavePng(Path.Combine(directory, "latency.png"), width, 480);
        plot.SaveSvg(Path.Combine(directory, "latency.svg"), width, 480);
    }

    /// <summary>DESIGN.md's order (classic … ttcp-cookie): from most waits to fewest; unknown names last.</summary>
    private static int VariantOrder(string name) =>
        Enum.GetValues<LatencySmtp.Transport.SmtpVariant>().FirstOrDefault(v => LatencySmtp.Transport.SmtpVariants.Name(v) == name, (LatencySmtp.Transport.SmtpVariant)99) is var v ? (int)v : 99;
}
