using System.Buffers;
using System.Text;

namespace LatencySmtp.Smtp;

/// <summary>Parses replies (RFC 5321 §4.2) from the front of a byte sequence.</summary>
public static class ReplyParser
{
    /// <summary>Bound on the lines of one multi-line reply, so a never-ending reply cannot grow the buffer without end.</summary>
    public const int MaxLines = 256;

    /// <summary>
    /// Consumes one complete (possibly multi-line) reply from the front of <paramref name="buffer"/>.
    /// Returns false and leaves the buffer unchanged when more bytes are needed. Throws
    /// <see cref="SmtpProtocolException"/> on a malformed line, inconsistent codes in a multi-line
    /// reply, a line longer than <paramref name="maxLineOctets"/> (including CRLF) or more than <see cref="MaxLines"/> lines.
    /// </summary>
    public static bool TryParse(ref ReadOnlySequence<byte> buffer, out SmtpReply? reply, int maxLineOctets = 512)
    {
        reply = null;
        var reader = new SequenceReader<byte>(buffer);
        var lines = new List<string>();
        int code = 0;
        while (true)
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n'))
            {
                // An unterminated line that is already too long can never become valid.
                if (reader.Remaining >= maxLineOctets)
                    throw new SmtpProtocolException($"Reply line longer than {maxLineOctets} octets");
                return false;
            }
            if (line.Length + 1 > maxLineOctets)
                throw new SmtpProtocolException($"Reply line longer than {maxLineOctets} octets");
            // Lenient on a bare LF terminator (servers do send them); the CR is not part of the text.
            if (line.Length > 0 && EndsWithCr(line)) line = line.Slice(0, line.Length - 1);

            ReadOnlySpan<byte> bytes = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
            int lineCode = ParseCode(bytes);
            if (lines.Count == 0) code = lineCode;
            else if (lineCode != code)
                throw new SmtpProtocolException($"Inconsistent codes in multi-line reply: {code} then {lineCode}");

            bool more = bytes.Length > 3 && bytes[3] == (byte)'-';
            if (bytes.Length > 3 && bytes[3] != (byte)'-' && bytes[3] != (byte)' ')
                throw new SmtpProtocolException($"Malformed reply line: {Show(bytes)}");
            var text = bytes.Length > 4 ? bytes[4..] : [];
            if (text.IndexOfAny((byte)'\r', (byte)0) >= 0)
                throw new SmtpProtocolException($"Control character in reply line: {Show(bytes)}");
            lines.Add(Encoding.UTF8.GetString(text));
            if (!more) break;
            if (lines.Count >= MaxLines)
                throw new SmtpProtocolException($"Multi-line reply longer than {MaxLines} lines");
        }
        buffer = buffer.Slice(reader.Position);
        reply = new SmtpReply(code, lines);
        return true;
    }

    static bool EndsWithCr(ReadOnlySequence<byte> line)
    {
        var last = line.Slice(line.Length - 1);
        return last.FirstSpan[0] == (byte)'\r';
    }

    // §4.2: Reply-code = %x32-35 %x30-35 %x30-39
    static int ParseCode(ReadOnlySpan<byte> b)
    {
        if (b.Length < 3 || b[0] is < (byte)'2' or > (byte)'5' || b[1] is < (byte)'0' or > (byte)'5'
            || b[2] is < (byte)'0' or > (byte)'9')
            throw new SmtpProtocolException($"Malformed reply code: {Show(b)}");
        return (b[0] - '0') * 100 + (b[1] - '0') * 10 + (b[2] - '0');
    }

    static string Show(ReadOnlySpan<byte> b)
    {
        var s = Encoding.UTF8.GetString(b[..Math.Min(b.Length, 64)]);
        var sb = new StringBuilder("\"");
        foreach (var c in s) sb.Append(c < 0x20 ? $"\\x{(int)c:x2}" : c.ToString());
        return sb.Append(b.Length > 64 ? "...\"" : "\"").ToString();
    }
}
