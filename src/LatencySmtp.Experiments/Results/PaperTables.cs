using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace LatencySmtp.Experiments.Results;

/// <summary>
/// Markdown tables for the paper, made from a result folder's CSV files, so that no number in
/// paper-notes.md is typed by hand. A document marks each table with
/// <c>&lt;!-- table: results/quick --&gt;</c> … <c>&lt;!-- /table --&gt;</c>; <see cref="UpdateDocument"/>
/// rewrites what lies between from the folder named in the marker. Captured examples are marked likewise
/// (<c>&lt;!-- capture: PCAP key=value … --&gt;</c> … <c>&lt;!-- /capture --&gt;</c>, PaperTables.Capture.cs).
/// </summary>
public static partial class PaperTables
{
    /// <summary>The table for one result folder: an accuracy run (rate.csv beside summary.csv) or a transaction experiment.</summary>
    public static string For(string folder) =>
        File.Exists(Path.Combine(folder, "rate.csv")) ? ForAccuracy(folder) : ForTransactions(folder);

    /// <summary>
    /// One row per cell of summary.csv. Grid dimensions that do not vary in the run (RTT, size, recipients,
    /// loss, contact) are left out; "trace = client" counts rows whose capture agreed with the client within 1 ms.
    /// </summary>
    public static string ForTransactions(string folder)
    {
        var summary = CsvFiles.ReadTable(Path.Combine(folder, "summary.csv"));
        var transactions = CsvFiles.ReadTable(Path.Combine(folder, "transactions.csv"));
        string[] dims = ["rtt_ms", "size_bytes", "recipients", "loss", "contact"];
        var varying = dims.Where(d => summary.Select(r => r[d]).Distinct().Count() > 1).ToList();
        string Cell(IReadOnlyDictionary<string, string> r) => string.Join('|', dims.Prepend("variant").Select(d => r[d]));

        var agree = transactions
            .GroupBy(Cell)
            .ToDictionary(g => g.Key, g => (ok: g.Count(r => r["trace_check"] == "ok"), n: g.Count()));

        var header = new List<string>();
        var align = new List<bool>();   // true: right-aligned (numbers)
        void Col(string name, bool right) { header.Add(name); align.Add(right); }
        foreach (var d in varying.Where(d => d != "contact")) Col(DimensionTitle(d), true);
        Col("variant", false);
        if (varying.Contains("contact")) Col("contact", false);
        foreach (var c in new[] { "sent", "accepted", "delivered", "dup", "median ms", "p10 ms", "p90 ms", "median rtt_count", "model", "segments", "trace = client" })
            Col(c, true);

        var sb = new StringBuilder();
        AppendRow(sb, header);
        sb.Append('|').AppendJoin('|', align.Select(r => r ? " ---: " : " --- ")).Append("|\n");
        foreach (var r in summary)
        {
            var row = new List<string>();
            foreach (var d in varying.Where(d => d != "contact")) row.Add(DimensionValue(d, r[d]));
            row.Add(r["variant"]);
            if (varying.Contains("contact")) row.Add(r["contact"]);
            var a = agree.GetValueOrDefault(Cell(r));
            row.AddRange([Count(r, "sent"), Count(r, "accepted"), Count(r, "delivered"), Count(r, "duplicates"), Fixed(r["median_accept_ms"], 1), Fixed(r["p10_accept_ms"], 1),
                Fixed(r["p90_accept_ms"], 1), Fixed(r["median_rtt_count"], 2), Number(r, "model_rtt_count"), Number(r, "median_segments"), $"{a.ok}/{a.n}"]);
            AppendRow(sb, row);
        }
        return sb.ToString();
    }

    /// <summary>The accuracy run: one row per (method, delay) from summary.csv, then the rate steps from rate.csv.</summary>
    public static string ForAccuracy(string folder)
    {
        var sb = new StringBuilder();
        AppendRow(sb, ["method", "one-way ms", "configured RTT ms", "n", "median RTT ms", "median error ms", "p99 error ms", "max error ms", "target ms", "met"]);
        sb.Append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
        foreach (var r in CsvFiles.ReadTable(Path.Combine(folder, "summary.csv")))
            AppendRow(sb, [r["method"], r["one_way_delay_ms"], r["configured_rtt_ms"], r["n"], Fixed(r["median_rtt_ms"], 3), Signed(r["median_error_ms"]),
                Fixed(r["p99_error_ms"], 3), Fixed(r["max_error_ms"], 3), r["target_ms"], r["meets_target"] == "true" ? "yes" : "**no**"]);
        sb.Append('\n');
        AppendRow(sb, ["offered pkt/s", "achieved pkt/s", "sent", "lost", "median added ms", "p99 added ms", "max added ms", "sustained"]);
        sb.Append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
        foreach (var r in CsvFiles.ReadTable(Path.Combine(folder, "rate.csv")))
            AppendRow(sb, [r["offered_pps"], r["sent_pps"], r["sent"], r["lost"], Signed(r["median_added_ms"]), Signed(r["p99_added_ms"]),
                Fixed(r["max_added_ms"], 1), r["sustained"] == "true" ? "yes" : "no"]);
        return sb.ToString();
    }

    /// <summary>
    /// Rewrites every marked table and captured example of a markdown document from the folder or capture its
    /// marker names, resolved against <paramref name="baseDirectory"/>. Throws when a marker is not closed.
    /// </summary>
    public static string UpdateDocument(string document, string baseDirectory, out int tables) =>
        UpdateDocument(document, baseDirectory, out tables, out _);

    /// <inheritdoc cref="UpdateDocument(string, string, out int)"/>
    public static string UpdateDocument(string document, string baseDirectory, out int tables, out int captures)
    {
        ArgumentNullException.ThrowIfNull(document);
        // A document with CRLF line ends is updated as LF and written back as CRLF: the markers end with a line break.
        if (document.Contains("\r\n", StringComparison.Ordinal))
            return UpdateDocument(document.Replace("\r\n", "\n", StringComparison.Ordinal), baseDirectory, out tables, out captures)
                .Replace("\n", "\r\n", StringComparison.Ordinal);
        var count = 0;
        var opened = OpenMarker().Matches(document).Count;
        var updated = Block().Replace(document, m =>
        {
            count++;
            var table = For(Path.Combine(baseDirectory, m.Groups["folder"].Value));
            return $"{m.Groups["open"].Value}\n{table}{m.Groups["close"].Value}";
        });
        if (count != opened) throw new FormatException($"{opened - count} table marker(s) without a closing <!-- /table -->");
        tables = count;

        count = 0;
        opened = OpenCaptureMarker().Matches(updated).Count;
        updated = CaptureBlock().Replace(updated, m =>
        {
            count++;
            var pairs = m.Groups["selector"].Captures.Select(c => c.Value.Split('=', 2)).ToList();
            if (pairs.GroupBy(kv => kv[0]).FirstOrDefault(g => g.Count() > 1) is { } twice)
                throw new FormatException($"{m.Groups["open"].Value}: selector '{twice.Key}' given twice");
            var selectors = pairs.ToDictionary(kv => kv[0], kv => kv[1]);
            var example = ForCapture(Path.Combine(baseDirectory, m.Groups["pcap"].Value), selectors);
            return $"{m.Groups["open"].Value}\n{example}{m.Groups["close"].Value}";
        });
        if (count != opened) throw new FormatException($"{opened - count} capture marker(s) without a closing <!-- /capture --> (or with a malformed selector)");
        captures = count;
        return updated;
    }

    [GeneratedRegex(@"(?<open><!-- table: (?<folder>[^ ]+) -->)\n.*?(?<close><!-- /table -->)", RegexOptions.Singleline)]
    private static partial Regex Block();

    [GeneratedRegex(@"<!-- table: [^ ]+ -->")]
    private static partial Regex OpenMarker();

    [GeneratedRegex(@"(?<open><!-- capture: (?<pcap>[^ ]+)(?: (?<selector>[a-z]+=[^ =]+))* -->)\n.*?(?<close><!-- /capture -->)", RegexOptions.Singleline)]
    private static partial Regex CaptureBlock();

    [GeneratedRegex(@"<!-- capture: ")]
    private static partial Regex OpenCaptureMarker();

    private static string DimensionTitle(string d) => d switch
    {
        "rtt_ms" => "RTT ms",
        "size_bytes" => "size B",
        "loss" => "loss each way",
        _ => d,
    };

    private static string DimensionValue(string d, string v) =>
        d == "loss" ? (double.Parse(v, CultureInfo.InvariantCulture) * 100).ToString("0.##", CultureInfo.InvariantCulture) + " %" : v;

    /// <summary>A count cell as written (never a negative or a word: the table is for a paper).</summary>
    private static string Count(IReadOnlyDictionary<string, string> r, string column) =>
        long.TryParse(r[column], NumberStyles.None, CultureInfo.InvariantCulture, out _) ? r[column]
            : throw new InvalidDataException($"summary.csv: '{r[column]}' in column {column} of {r["variant"]} is not a count");

    /// <summary>A numeric cell as written; empty stays "-".</summary>
    private static string Number(IReadOnlyDictionary<string, string> r, string column) =>
        r[column].Length == 0 ? "-"
        : double.TryParse(r[column], NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? r[column]
        : throw new InvalidDataException($"summary.csv: '{r[column]}' in column {column} of {r["variant"]} is not a number");

    private static string Fixed(string v, int digits) =>
        v.Length == 0 ? "-" : double.Parse(v, CultureInfo.InvariantCulture).ToString("F" + digits, CultureInfo.InvariantCulture);

    private static string Signed(string v) =>
        v.Length == 0 ? "-" : double.Parse(v, CultureInfo.InvariantCulture).ToString("+0.000;-0.000;0.000", CultureInfo.InvariantCulture);

    private static void AppendRow(StringBuilder sb, IEnumerable<string> cells) => sb.Append("| ").AppendJoin(" | ", cells).Append(" |\n");
}
