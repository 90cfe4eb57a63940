using System.Text;

namespace LatencySmtp.Smtp;

/// <summary>A reply (RFC 5321 §4.2): a three-digit code and one or more text lines.</summary>
/// <param name="Code">The reply code, 200..599.</param>
/// <param name="Lines">The text of each line without code, separator and CRLF.</param>
public sealed record SmtpReply(int Code, IReadOnlyList<string> Lines)
{
    /// <summary>The RFC 3463 status code ("2.1.0") if the first line starts with one (RFC 2034 §4).</summary>
    public string? EnhancedStatus
    {
        get
        {
            if (Lines.Count == 0) return null;
            var s = Lines[0];
            int end = ScanEnhancedStatus(s);
            return end < 0 ? null : s[..end];
        }
    }

    public bool IsPositiveCompletion => Code is >= 200 and < 300;
    public bool IsPositiveIntermediate => Code is >= 300 and < 400;
    public bool IsTransientFailure => Code is >= 400 and < 500;
    public bool IsPermanentFailure => Code is >= 500 and < 600;

    /// <summary>All lines joined by a space: the human-readable text of the reply.</summary>
    public string Text => string.Join(" ", Lines);

    /// <summary>Wire form: "250-a\r\n250 b\r\n" (§4.2.1: '-' on every line but the last).</summary>
    public byte[] ToBytes()
    {
        var sb = new StringBuilder();
        if (Lines.Count == 0) sb.Append(Code).Append("\r\n");
        for (int i = 0; i < Lines.Count; i++)
            sb.Append(Code).Append(i < Lines.Count - 1 ? '-' : ' ').Append(Lines[i]).Append("\r\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public static SmtpReply Single(int code, string text) => new(code, [text]);

    public bool Equals(SmtpReply? other) =>
        other is not null && Code == other.Code && Lines.SequenceEqual(other.Lines);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Code);
        foreach (var l in Lines) h.Add(l);
        return h.ToHashCode();
    }

    public override string ToString() => Lines.Count <= 1
        ? $"{Code} {Text}"
        : $"{Code} {string.Join(" | ", Lines)}";

    /// <summary>Length of "class.subject.detail" at the start of s (RFC 3463 §2), or -1.</summary>
    internal static int ScanEnhancedStatus(string s)
    {
        if (s.Length < 5 || s[0] is not ('2' or '4' or '5') || s[1] != '.') return -1;
        int i = 2;
        for (int part = 0; part < 2; part++)
        {
            int start = i;
            while (i < s.Length && i - start < 4 && char.IsAsciiDigit(s[i])) i++;
            int n = i - start;
            if (n is < 1 or > 3) return -1;
            if (part == 0)
            {
                if (i >= s.Length || s[i] != '.') return -1;
                i++;
            }
        }
        return i == s.Length || s[i] == ' ' ? i : -1;
    }
}
