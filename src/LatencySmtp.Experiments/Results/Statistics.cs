namespace LatencySmtp.Experiments.Results;

public static class Statistics
{
    /// <summary>Percentile by linear interpolation between closest ranks (the R-7 / NumPy default).</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).OrderBy(v => v).ToArray();
        if (sorted.Length == 0) return double.NaN;
        var rank = p / 100.0 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

    public static IReadOnlyList<SummaryRow> Summarise(IReadOnlyList<TransactionRow> rows, Func<TransactionRow, long>? delivered = null,
        Func<TransactionRow, long>? duplicates = null) =>
        rows.GroupBy(r => (r.Variant, r.RttMs, r.SizeBytes, r.Recipients, r.Loss, r.Contact))
            .Select(g =>
            {
                var ok = g.Where(r => r.Outcome == "accepted").ToList();
                var segments = ok.Where(r => r.Segments.HasValue).Select(r => (double)r.Segments!.Value).ToList();
                var bytes = ok.Where(r => r.Bytes.HasValue).Select(r => (double)r.Bytes!.Value).ToList();
                return new SummaryRow(g.Key.Variant, g.Key.RttMs, g.Key.SizeBytes, g.Key.Recipients, g.Key.Loss,
                    g.Count(), ok.Count, delivered?.Invoke(g.First()) ?? -1,
                    Median(ok.Select(r => r.AcceptMs).ToList()),
                    Percentile(ok.Select(r => r.AcceptMs).ToList(), 10),
                    Percentile(ok.Select(r => r.AcceptMs).ToList(), 90),
                    Median(ok.Select(r => r.RttCount).ToList()),
                    g.First().ModelRttCount,
                    segments.Count > 0 ? Median(segments) : null,
                    bytes.Count > 0 ? Median(bytes) : null,
                    g.Key.Contact,
                    duplicates?.Invoke(g.First()) ?? 0);
            })
            .ToList();
}
