using System.Globalization;
using System.Text;
using LatencySmtp.Tcp;
using LatencySmtp.Testbed.Analysis;

namespace LatencySmtp.Experiments.Results;

/// <summary>
/// Captured examples for the paper: one connection of a committed capture, segment by segment. A document marks
/// each with <c>&lt;!-- capture: results/quick/capture-rtt50.pcap variant=ttcp --&gt;</c> … <c>&lt;!-- /capture --&gt;</c>;
/// the connection shown is the first whose analysis matches every <c>key=value</c> of the marker.
/// </summary>
public static partial class PaperTables
{
    /// <summary>The selectors a capture marker may use: the analyzer's variant guess and its client waits.</summary>
    public static readonly IReadOnlyList<string> CaptureSelectors = ["variant", "waits"];

    /// <summary>
    /// The first connection of <paramref name="pcapPath"/> matching <paramref name="selectors"/> as a fenced block:
    /// per segment the time since the capture started, endpoints, flags, raw seq/ack, payload length, the
    /// options in wire order and the payload lines (message content elided, see <see cref="TraceTranscript"/>);
    /// then one line with what <see cref="TraceAnalyzer"/> makes of the connection.
    /// </summary>
    /// <exception cref="FormatException">An unknown selector, or no connection matches.</exception>
    public static string ForCapture(string pcapPath, IReadOnlyDictionary<string, string> selectors)
    {
        foreach (var key in selectors.Keys)
            if (!CaptureSelectors.Contains(key)) throw new FormatException($"unknown capture selector '{key}' (known: {string.Join(", ", CaptureSelectors)})");
        var transaction = TraceAnalyzer.Analyze(pcapPath).FirstOrDefault(t =>
                (!selectors.TryGetValue("variant", out var v) || t.VariantGuess == v)
                && (!selectors.TryGetValue("waits", out var w) || t.ClientWaits.ToString(CultureInfo.InvariantCulture) == w))
            ?? throw new FormatException($"{pcapPath}: no connection with {string.Join(' ', selectors.Select(s => $"{s.Key}={s.Value}"))}");
        return Render(TraceTranscript.Of(pcapPath, transaction));
    }

    /// <summary>Lays out a transcript in the paper's text style (columns aligned across the block).</summary>
    public static string Render(TraceTranscript transcript)
    {
        var heads = transcript.Segments.Select(s => new[]
        {
            "t=" + (s.Time - transcript.CaptureStart).ToString("F6", CultureInfo.InvariantCulture),
            $"{s.Source} > {s.Destination}",
            "[" + string.Join(", ", FlagNames.Where(f => s.Flags.HasFlag(f.Flag)).Select(f => f.Name)) + "]",
            "seq=" + s.Seq.ToString(CultureInfo.InvariantCulture),
            s.Flags.HasFlag(TcpFlags.Ack) ? "ack=" + s.Ack.ToString(CultureInfo.InvariantCulture) : "",
            "len=" + s.PayloadLength.ToString(CultureInfo.InvariantCulture),
        }).ToList();
        var widths = Enumerable.Range(0, 6).Select(c => heads.Max(h => h[c].Length)).ToArray();
        var indent = new string(' ', widths[0] + 2);

        var sb = new StringBuilder("```\n");
        for (var i = 0; i < heads.Count; i++)
        {
            var h = heads[i];
            sb.Append($"{h[0].PadRight(widths[0])}  {h[1].PadRight(widths[1])}  {h[2].PadRight(widths[2])}  ")
                .Append($"{h[3].PadRight(widths[3])} {h[4].PadRight(widths[4])} {h[5]}\n");
            var s = transcript.Segments[i];
            if (s.Options.Count > 0) sb.Append(indent).Append("options: ").Append(DescribeOptions(s.Options)).Append('\n');
            foreach (var p in s.PayloadLines) sb.Append(indent).Append(p).Append('\n');
        }
        sb.Append("```\n");

        var t = transcript.Transaction;
        string Ms(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
        sb.Append($"Analysis of this connection (`latency-smtp analyze`): variant {t.VariantGuess ?? "unknown"}, ")
            .Append($"{t.SegmentsClientToServer + t.SegmentsServerToClient} segments ({t.SegmentsClientToServer} from the client, {t.SegmentsServerToClient} from the server), ")
            .Append($"payload {t.PayloadBytesClientToServer} + {t.PayloadBytesServerToClient} octets, ")
            .Append($"handshake RTT {(double.IsNaN(t.HandshakeRttMs) ? "-" : Ms(t.HandshakeRttMs) + " ms")}, ")
            .Append($"{t.ClientWaits} client wait{(t.ClientWaits == 1 ? "" : "s")}, ")
            .Append($"SYN → 250 {(t.SynToAcceptMs is { } a ? Ms(a) + " ms" : "not seen")}.\n");
        return sb.ToString();
    }

    private static readonly (TcpFlags Flag, string Name)[] FlagNames =
        [(TcpFlags.Syn, "SYN"), (TcpFlags.Ack, "ACK"), (TcpFlags.Fin, "FIN"), (TcpFlags.Rst, "RST"), (TcpFlags.Psh, "PSH"),
         (TcpFlags.Urg, "URG"), (TcpFlags.Ece, "ECE"), (TcpFlags.Cwr, "CWR")];

    /// <summary>"MSS 1460, NOP NOP CC 3": NOPs are written in front of the option they pad for, options separated by commas.</summary>
    private static string DescribeOptions(IReadOnlyList<TcpOptionField> options)
    {
        var groups = new List<string>();
        var nops = new StringBuilder();
        foreach (var o in options)
        {
            if (o.Kind == 1 && !o.Malformed) { nops.Append("NOP "); continue; }
            groups.Add(nops + o.ToString());
            nops.Clear();
        }
        if (nops.Length > 0) groups.Add(nops.ToString().TrimEnd());
        return string.Join(", ", groups);
    }
}
