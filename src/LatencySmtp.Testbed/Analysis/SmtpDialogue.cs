using System.Text;

namespace LatencySmtp.Testbed.Analysis;

/// <summary>
/// Follows an SMTP dialogue offline from both reassembled directions: splits the server stream into
/// replies (RFC 5321 §4.2, multi-line aware) and the client stream into reply-bearing units (commands,
/// the end of DATA content, BDAT chunks per RFC 3030), then pairs them in order (RFC 5321 §4.1: one
/// reply per command; RFC 2920 keeps the order when pipelining). Never throws on peer bytes: what it
/// cannot parse ends the dialogue at that point.
/// </summary>
internal sealed class SmtpDialogue
{
    public const int MaxLineOctets = 4096;
    public const int MaxUnits = 100_000;

    /// <summary>One server reply: its code and the stream offset just past its last line.</summary>
    public readonly record struct Reply(int Code, long End);

    /// <summary>A client unit that gets exactly one reply; End is the offset just past its last byte.</summary>
    public readonly record struct Unit(string Verb, long Start, long End, int ReplyIndex);

    public List<Reply> Replies { get; } = [];
    public List<Unit> Units { get; } = [];

    /// <summary>First client line starts with "XID ": greeting-less, so there is no 220 to pair.</summary>
    public bool Greetingless { get; private set; }

    /// <summary>Index into <see cref="Replies"/> of the reply to the first end of data or BDAT LAST; -1 if none.</summary>
    public int DecidingReplyIndex { get; private set; } = -1;

    public static SmtpDialogue Follow(ReadOnlySpan<byte> client, ReadOnlySpan<byte> server)
    {
        var dialogue = new SmtpDialogue();
        dialogue.ParseReplies(server);
        dialogue.ParseClient(client);
        return dialogue;
    }

    public Reply? ReplyTo(Unit unit) => unit.ReplyIndex < Replies.Count ? Replies[unit.ReplyIndex] : null;

    private void ParseReplies(ReadOnlySpan<byte> server)
    {
        long position = 0;
        while (Replies.Count < MaxUnits)
        {
            var code = -1;
            var cursor = position;
            while (true)
            {
                var line = NextLine(server, cursor);
                if (line is not var (length, next)) return;          // incomplete: stop here
                var text = server.Slice((int)cursor, length);
                if (text.Length < 3 || !IsDigit(text[0]) || !IsDigit(text[1]) || !IsDigit(text[2])) return;
                var lineCode = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
                if (code >= 0 && lineCode != code) return;            // inconsistent multi-line reply
                code = lineCode;
                cursor = next;
                if (text.Length == 3 || text[3] == ' ') break;        // last line
                if (text[3] != '-') return;
            }
            Replies.Add(new Reply(code, cursor));
            position = cursor;
        }
    }

    private void ParseClient(ReadOnlySpan<byte> client)
    {
        long position = 0;
        // In classic mode reply 0 is the greeting (RFC 5321 §3.1), so the first command pairs with reply 1.
        var replyIndex = -1;
        while (Units.Count < MaxUnits)
        {
            if (NextLine(client, position) is not var (length, next)) return;
            var line = client.Slice((int)position, length);
            var verb = Verb(line);
            if (replyIndex < 0)
            {
                Greetingless = verb == "XID";
                replyIndex = Greetingless ? 0 : 1;
            }
            var unit = new Unit(verb, position, next, replyIndex++);
            Units.Add(unit);
            position = next;

            switch (verb)
            {
                case "BDAT":
                    if (!TryParseBdat(line, out var size, out var last) || size > client.Length - position) return;
                    position += size;
                    Units[^1] = unit with { End = position };
                    if (last && DecidingReplyIndex < 0) DecidingReplyIndex = unit.ReplyIndex;
                    break;
                case "DATA":
                    // Content follows only after 354 (RFC 5321 §4.1.1.4); if the reply is not in the trace, assume it.
                    if (ReplyTo(unit) is { } reply && reply.Code != 354) break;
                    // The terminator is CRLF.CRLF; the CRLF ending the DATA line counts for an empty body.
                    var terminator = client[(int)(position - 2)..].IndexOf("\r\n.\r\n"u8);
                    if (terminator < 0) return;
                    var end = position - 2 + terminator + 5;
                    Units.Add(new Unit(EndOfData, position, end, replyIndex++));
                    if (DecidingReplyIndex < 0) DecidingReplyIndex = Units[^1].ReplyIndex;
                    position = end;
                    break;
                case "STARTTLS":
                    return;                                           // the rest is ciphertext
            }
        }
    }

    /// <summary>Pseudo-verb of the unit that ends DATA content.</summary>
    public const string EndOfData = "<end-of-data>";

    /// <summary>Finds the line at <paramref name="start"/>: (length without line end, offset of the next line), or
    /// null when no complete line of at most <see cref="MaxLineOctets"/> is there. Tolerates a bare LF end.</summary>
    private static (int Length, long Next)? NextLine(ReadOnlySpan<byte> data, long start)
    {
        if (start >= data.Length) return null;
        var window = data[(int)start..];
        if (window.Length > MaxLineOctets) window = window[..MaxLineOctets];
        var lf = window.IndexOf((byte)'\n');
        if (lf < 0) return null;
        var length = lf > 0 && window[lf - 1] == '\r' ? lf - 1 : lf;
        return (length, start + lf + 1);
    }

    private static string Verb(ReadOnlySpan<byte> line)
    {
        var space = line.IndexOf((byte)' ');
        var word = space < 0 ? line : line[..space];
        if (word.Length > 16) word = word[..16];
        return Encoding.ASCII.GetString(word).ToUpperInvariant();
    }

    /// <summary>"BDAT" SP chunk-size [SP "LAST"] (RFC 3030 §2).</summary>
    private static bool TryParseBdat(ReadOnlySpan<byte> line, out long size, out bool last)
    {
        size = 0;
        last = false;
        var text = Encoding.ASCII.GetString(line);
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is < 2 or > 3 || !long.TryParse(parts[1], System.Globalization.NumberStyles.None, null, out size))
            return false;
        if (parts.Length == 3)
        {
            if (!parts[2].Equals("LAST", StringComparison.OrdinalIgnoreCase)) return false;
            last = true;
        }
        return true;
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';
}
