using System.Globalization;
using System.Text;

namespace LatencySmtp.Experiments.Results;

/// <summary>Writes and reads the CSV files of DESIGN.md ("Data on disk"), RFC 4180 quoting, invariant culture.</summary>
public static class CsvFiles
{
    public static readonly string[] TransactionColumns =
    [
        "variant", "rtt_ms", "size_bytes", "recipients", "loss", "rep", "accept_ms", "rtt_count", "segments", "bytes", "outcome",
        "model_rtt_count", "trace_accept_ms", "trace_client_waits", "trace_check", "error", "contact",
    ];

    public static readonly string[] SummaryColumns =
    [
        "variant", "rtt_ms", "size_bytes", "recipients", "loss", "contact", "n", "sent", "accepted", "delivered", "duplicates", "median_accept_ms", "p10_accept_ms",
        "p90_accept_ms", "median_rtt_count", "model_rtt_count", "median_segments", "median_bytes",
    ];

    public static void WriteTransactions(string path, IEnumerable<TransactionRow> rows) =>
        Write(path, TransactionColumns, rows.Select(r => new object?[]
        {
            r.Variant, r.RttMs, r.SizeBytes, r.Recipients, r.Loss, r.Rep, Round(r.AcceptMs), Round(r.RttCount, 4), r.Segments, r.Bytes, r.Outcome,
            r.ModelRttCount, r.TraceAcceptMs is { } t ? Round(t) : null, r.TraceClientWaits, r.TraceCheck, r.Error, r.Contact,
        }));

    public static void WriteSummary(string path, IEnumerable<SummaryRow> rows) =>
        Write(path, SummaryColumns, rows.Select(r => new object?[]
        {
            r.Variant, r.RttMs, r.SizeBytes, r.Recipients, r.Loss, r.Contact, r.N, r.Sent, r.Accepted, r.Delivered, r.Duplicates, Round(r.MedianAcceptMs), Round(r.P10AcceptMs),
            Round(r.P90AcceptMs), Round(r.MedianRttCount, 4), r.ModelRttCount, r.MedianSegments, r.MedianBytes,
        }));

    public static IReadOnlyList<TransactionRow> ReadTransactions(string path)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0) return [];
        var header = Split(lines[0]);
        int Col(string name) => Array.IndexOf(header, name) is var i and >= 0 ? i : throw new FormatException($"{path}: no column '{name}'");
        var rows = new List<TransactionRow>();
        foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
        {
            var f = Split(line);
            string S(string c) => f[Col(c)];
            double D(string c) => S(c).Length == 0 ? double.NaN : double.Parse(S(c), CultureInfo.InvariantCulture);
            int? NI(string c) => S(c).Length == 0 ? null : int.Parse(S(c), CultureInfo.InvariantCulture);
            long? NL(string c) => S(c).Length == 0 ? null : long.Parse(S(c), CultureInfo.InvariantCulture);
            rows.Add(new TransactionRow(S("variant"), D("rtt_ms"), (int)D("size_bytes"), (int)D("recipients"), D("loss"), (int)D("rep"),
                D("accept_ms"), D("rtt_count"), NI("segments"), NL("bytes"), S("outcome"), (int)D("model_rtt_count"),
                S("trace_accept_ms").Length == 0 ? null : D("trace_accept_ms"), NI("trace_client_waits"), S("trace_check"),
                S("error").Length == 0 ? null : S("error"),
                Array.IndexOf(header, "contact") >= 0 ? S("contact") : "repeat"));
        }
        return rows;
    }

    /// <summary>Any of the result CSVs as rows of column name to field text (empty fields stay empty).</summary>
    public static IReadOnlyList<IReadOnlyDictionary<string, string>> ReadTable(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToArray();
        if (lines.Length == 0) return [];
        var header = Split(lines[0]);
        return lines.Skip(1).Select(line =>
        {
            var f = Split(line);
            if (f.Length != header.Length) throw new FormatException($"{path}: {f.Length} fields where the header has {header.Length}: {line}");
            return (IReadOnlyDictionary<string, string>)header.Zip(f).ToDictionary(p => p.First, p => p.Second);
        }).ToList();
    }

    private static double Round(double v, int digits = 3) => double.IsNaN(v) ? double.NaN : Math.Round(v, digits);

    private static void Write(string path, string[] header, IEnumerable<object?[]> rows)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', header).Append('\n');
        foreach (var row in rows)
            sb.AppendJoin(',', row.Select(Format)).Append('\n');
        File.WriteAllText(path, sb.ToString());
    }

    private static string Format(object? v) => v switch
    {
        null => "",
        double d when double.IsNaN(d) => "",
        double d => d.ToString("0.####", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        string s when s.IndexOfAny([',', '"', '\n', '\r']) >= 0 => "\"" + s.Replace("\"", "\"\"") + "\"",
        _ => v.ToString() ?? "",
    };

    private static string[] Split(string line)
    {
        var fields = new List<string>();
        var sb = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else sb.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(sb.ToString()); sb.Clear(); }
            else sb.Append(c);
        }
        fields.Add(sb.ToString());
        return fields.ToArray();
    }
}
