using System.Text;

namespace LatencySmtp.Smtp;

/// <summary>Who the client is: EHLO/XID domain, software token, optional transaction id (XID TXID).</summary>
public sealed record ClientIdentity(string HostName, string Software, string? TransactionId);

/// <summary>One mail: reverse-path ("" for &lt;&gt;), recipients, and the message with CRLF line ends.</summary>
public sealed record MailRequest(string ReversePath, IReadOnlyList<string> Recipients, ReadOnlyMemory<byte> Message);

public enum ClientMode
{
    /// <summary>RFC 5321: wait for each reply before the next command.</summary>
    Classic,
    /// <summary>The proposal: identification and the whole request at once, no greeting wait.</summary>
    Greetingless,
    /// <summary>RFC 2920 after the EHLO reply: MAIL, RCPT... and DATA (or BDAT LAST with the message, RFC 3030) in one group.</summary>
    Pipelined,
}

public enum ClientOutcome { Pending, Accepted, Rejected, Failed }

/// <summary>The greeting-less request: every command of the transaction in one write.</summary>
public static class GreetinglessRequest
{
    /// <summary>
    /// "XID host software[ TXID=id]\r\n" "MAIL FROM:&lt;from&gt; SIZE=n\r\n" "RCPT TO:&lt;to&gt;\r\n"...
    /// "BDAT n LAST\r\n" message "QUIT\r\n". BDAT makes the length explicit and needs no dot-stuffing.
    /// </summary>
    public static byte[] Build(ClientIdentity id, MailRequest request)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(request);
        var lines = Commands(id, request);
        var head = Encoding.UTF8.GetBytes(string.Concat(lines.Take(lines.Count - 1).Select(l => l + "\r\n")));
        var quit = "QUIT\r\n"u8;
        var result = new byte[head.Length + request.Message.Length + quit.Length];
        head.CopyTo(result, 0);
        request.Message.Span.CopyTo(result.AsSpan(head.Length));
        quit.CopyTo(result.AsSpan(head.Length + request.Message.Length));
        return result;
    }

    /// <summary>The command lines (without CRLF) in the order their replies come back.</summary>
    internal static List<string> Commands(ClientIdentity id, MailRequest request)
    {
        var lines = new List<string>(request.Recipients.Count + 4)
        {
            $"XID {id.HostName} {id.Software}" + (id.TransactionId is null ? "" : $" TXID={id.TransactionId}"),
            ClientCommands.Mail(request),
        };
        lines.AddRange(request.Recipients.Select(ClientCommands.Rcpt));
        lines.Add($"BDAT {request.Message.Length} LAST");
        lines.Add("QUIT");
        return lines;
    }
}

internal static class ClientCommands
{
    public static string Mail(MailRequest r, bool withSize = true) =>
        $"MAIL FROM:<{r.ReversePath}>" + (withSize ? $" SIZE={r.Message.Length}" : "") + (IsAscii(r) ? "" : " SMTPUTF8");

    public static string Rcpt(string to) => $"RCPT TO:<{to}>";

    // RFC 6531 §3.4: non-ASCII addresses need SMTPUTF8 on MAIL.
    static bool IsAscii(MailRequest r) => Ascii.IsValid(r.ReversePath) && r.Recipients.All(to => Ascii.IsValid(to));
}

/// <summary>DATA transparency (RFC 5321 §4.5.2).</summary>
/// <summary>RFC 5322 §2.3: CR and LF occur in a message only together, as CRLF.</summary>
public static class MessageText
{
    /// <summary>
    /// A message file with Unix line ends (LF alone) in its wire form: every LF not preceded by CR becomes CRLF,
    /// so DATA and BDAT carry the same bytes and a server that refuses bare LF (RFC 5321 §2.3.8) accepts it.
    /// A CR alone is left as it is: the server judges it.
    /// </summary>
    public static byte[] WithCrlfLineEnds(ReadOnlySpan<byte> message)
    {
        bool BareLf(ReadOnlySpan<byte> m, int i) => m[i] == (byte)'\n' && (i == 0 || m[i - 1] != (byte)'\r');
        int bare = 0;
        for (int i = 0; i < message.Length; i++)
            if (BareLf(message, i)) bare++;
        if (bare == 0) return message.ToArray();
        var result = new byte[message.Length + bare];
        int o = 0;
        for (int i = 0; i < message.Length; i++)
        {
            if (BareLf(message, i)) result[o++] = (byte)'\r';
            result[o++] = message[i];
        }
        return result;
    }
}

public static class DotStuffing
{
    /// <summary>
    /// The DATA body for a message: a dot doubled at the start of every line (after every LF, so a bare
    /// LF cannot smuggle an end of data either), CRLF appended if the message does not end with one,
    /// then ".\r\n". An empty message is just ".\r\n".
    /// </summary>
    public static byte[] Stuff(ReadOnlySpan<byte> message)
    {
        int dots = 0;
        bool lineStart = true;
        foreach (var b in message)
        {
            if (lineStart && b == (byte)'.') dots++;
            lineStart = b == (byte)'\n';
        }
        bool needCrlf = !message.IsEmpty && !message.EndsWith("\r\n"u8);
        var result = new byte[message.Length + dots + (needCrlf ? 2 : 0) + 3];
        int o = 0;
        lineStart = true;
        foreach (var b in message)
        {
            if (lineStart && b == (byte)'.') result[o++] = (byte)'.';
            result[o++] = b;
            lineStart = b == (byte)'\n';
        }
        if (needCrlf) { result[o++] = (byte)'\r'; result[o++] = (byte)'\n'; }
        result[o++] = (byte)'.'; result[o++] = (byte)'\r'; result[o] = (byte)'\n';
        return result;
    }
}
