using System.Net;
using System.Text;
using LatencySmtp.Tcp;

namespace LatencySmtp.Testbed.Analysis;

/// <summary>One captured segment of a transcript, decoded for a reader.</summary>
/// <param name="Time">Capture time, Unix seconds.</param>
/// <param name="FromClient">Sent by the connection's client (the sender of the first SYN).</param>
/// <param name="Seq">Sequence number as on the wire (not relative).</param>
/// <param name="Ack">Acknowledgment number as on the wire; meaningful only with <see cref="TcpFlags.Ack"/>.</param>
/// <param name="PayloadLength">Payload octets per the IP length (the capture may hold fewer).</param>
/// <param name="Options">The options in wire order, NOPs included.</param>
/// <param name="PayloadLines">The captured payload as text lines (line ends dropped, other control octets as \xNN),
/// with message content elided: see <see cref="TraceTranscript"/>.</param>
public sealed record TranscriptSegment(
    decimal Time,
    bool FromClient,
    IPEndPoint Source,
    IPEndPoint Destination,
    TcpFlags Flags,
    uint Seq,
    uint Ack,
    int PayloadLength,
    IReadOnlyList<TcpOptionField> Options,
    IReadOnlyList<string> PayloadLines);

/// <summary>
/// The segments of one connection of a capture, as tshark would list them, with the SMTP payload as lines.
/// Message content (the octets of a BDAT chunk, RFC 3030 §2; DATA content up to the final CRLF before the
/// terminating ".", RFC 5321 §4.1.1.4) is elided per segment as "&lt;N octets: first line ...&gt;", where N is
/// that segment's share of it. Where content lies is taken from the reassembled streams, so a retransmission
/// is shown like the original.
/// </summary>
/// <param name="CaptureStart">Time of the capture file's first record, Unix seconds.</param>
public sealed record TraceTranscript(TransactionTrace Transaction, decimal CaptureStart, IReadOnlyList<TranscriptSegment> Segments)
{
    /// <summary>Longest payload line shown in full; longer ones are cut and end in "...".</summary>
    public const int MaxLineChars = 100;

    /// <summary>Longest first line quoted in an elision.</summary>
    public const int MaxQuoteChars = 40;

    /// <summary>The transcript of <paramref name="transaction"/>, one of <see cref="TraceAnalyzer.Analyze(string)"/>'s results for the same file.</summary>
    /// <exception cref="ArgumentException">The capture holds no such connection.</exception>
    public static TraceTranscript Of(string pcapPath, TransactionTrace transaction)
    {
        var start = TraceAnalyzer.CaptureStart(pcapPath) ?? throw new ArgumentException($"{pcapPath} holds no packets", nameof(pcapPath));
        var segments = new List<(TcpSegmentRecord Segment, bool FromClient)>();
        int? flow = null;
        foreach (var (number, segment, fromClient) in TraceAnalyzer.Assign(TraceAnalyzer.ReadSegments(pcapPath)))
        {
            if (flow is null && fromClient && segment.Syn && !segment.AckFlag
                && new FlowKey(segment.Source, segment.SourcePort, segment.Destination, segment.DestinationPort) == transaction.Flow
                && TraceAnalyzer.ToDateTime(segment.Time) == transaction.FirstSyn)
                flow = number;
            if (number == flow) segments.Add((segment, fromClient));
        }
        if (flow is null) throw new ArgumentException($"{pcapPath} holds no connection {transaction.Flow} opened at {transaction.FirstSyn:O}", nameof(transaction));
        return new TraceTranscript(transaction, start, Decode(segments));
    }

    private static List<TranscriptSegment> Decode(List<(TcpSegmentRecord Segment, bool FromClient)> segments)
    {
        var clientIsn = segments[0].Segment.Seq;
        uint? serverIsn = null;
        var client = new StreamReassembler(TraceAnalyzer.MaxStreamBytes);
        var server = new StreamReassembler(TraceAnalyzer.MaxStreamBytes);
        var offsets = new List<long?>();
        foreach (var (s, fromClient) in segments)
        {
            if (!fromClient && s.Syn && s.AckFlag) serverIsn ??= s.Seq;
            long? offset = fromClient ? TraceAnalyzer.StreamOffset(s, clientIsn) : serverIsn is { } isn ? TraceAnalyzer.StreamOffset(s, isn) : null;
            offsets.Add(offset);
            if (offset is { } o) (fromClient ? client : server).Add(o, s.PayloadLength, s.Payload, s.Index, s.Time);
        }
        var content = ContentRanges(SmtpDialogue.Follow(client.Contiguous, server.Contiguous), client.Contiguous);

        var decoded = new List<TranscriptSegment>(segments.Count);
        for (var i = 0; i < segments.Count; i++)
        {
            var (s, fromClient) = segments[i];
            decoded.Add(new TranscriptSegment(s.Time, fromClient, new IPEndPoint(s.Source, s.SourcePort), new IPEndPoint(s.Destination, s.DestinationPort),
                (TcpFlags)s.FlagBits, s.Seq, s.Ack, s.PayloadLength, TcpOptionField.Parse(s.OptionBytes),
                PayloadLines(s.Payload, offsets[i] ?? long.MinValue / 2, fromClient ? content : [])));
        }
        return decoded;
    }

    /// <summary>Client stream ranges [Start, End) of message content: BDAT chunks, and DATA content before its final CRLF "." CRLF.</summary>
    private static List<(long Start, long End)> ContentRanges(SmtpDialogue dialogue, ReadOnlySpan<byte> client)
    {
        var ranges = new List<(long, long)>();
        foreach (var unit in dialogue.Units)
        {
            if (unit.Verb == "BDAT")
            {
                var lineEnd = unit.Start + client[(int)unit.Start..].IndexOf((byte)'\n') + 1;
                if (unit.End > lineEnd) ranges.Add((lineEnd, unit.End));
            }
            else if (unit.Verb == SmtpDialogue.EndOfData && unit.End - 3 > unit.Start)
            {
                ranges.Add((unit.Start, unit.End - 3));   // ".\r\n" stays a line of its own
            }
        }
        return ranges;
    }

    private static List<string> PayloadLines(ReadOnlySpan<byte> payload, long offset, List<(long Start, long End)> content)
    {
        var lines = new List<string>();
        var position = 0;
        while (position < payload.Length)
        {
            var at = offset + position;
            var inside = content.FindIndex(r => r.Start <= at && at < r.End);
            if (inside >= 0)
            {
                var take = (int)Math.Min(content[inside].End - at, payload.Length - position);
                var chunk = payload.Slice(position, take);
                var first = chunk.IndexOfAny((byte)'\r', (byte)'\n');
                lines.Add($"<{take} octets: {Printable(first < 0 ? chunk : chunk[..first], MaxQuoteChars, ellipsis: false)} ...>");
                position += take;
                continue;
            }
            // Text up to the next content range or the segment's end, split at LF.
            var next = content.Where(r => r.Start > at).Select(r => r.Start).DefaultIfEmpty(long.MaxValue).Min();
            var text = payload.Slice(position, (int)Math.Min(payload.Length - position, next - at));
            position += text.Length;
            while (!text.IsEmpty)
            {
                var lf = text.IndexOf((byte)'\n');
                var line = lf < 0 ? text : text[..lf];
                if (line.Length > 0 && line[^1] == '\r') line = line[..^1];
                lines.Add(Printable(line, MaxLineChars));
                text = lf < 0 ? [] : text[(lf + 1)..];
            }
        }
        return lines;
    }

    private static string Printable(ReadOnlySpan<byte> bytes, int maxChars, bool ellipsis = true)
    {
        var sb = new StringBuilder();
        foreach (var b in bytes)
        {
            if (sb.Length >= maxChars) return ellipsis ? sb.Append("...").ToString() : sb.ToString();
            if (b is >= 0x20 and < 0x7f) sb.Append((char)b);
            else sb.Append($"\\x{b:x2}");
        }
        return sb.ToString();
    }
}
