using System.Text;
using System.Text.Unicode;

namespace LatencySmtp.Smtp;

/// <summary>Parses one command line (RFC 5321 §4.1) without touching session state.</summary>
public static partial class CommandParser
{
    /// <summary>
    /// <paramref name="line"/>: one command line without the CRLF. On failure returns false with the
    /// reply the server must send: 500 unrecognised or line too long, 501 syntax / bad address /
    /// path or domain too long, 504/555 unsupported parameters. Never throws.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> line, SmtpLimits limits, out SmtpCommand? command, out SmtpReply? error)
    {
        command = null;
        error = null;
        if (line.Length + 2 > limits.MaxCommandLineOctets) return Fail(ServerReplies.LineTooLong, out error);
        // Commands are ASCII, but SMTPUTF8 (RFC 6531) lets addresses carry UTF-8.
        if (!Utf8.IsValid(line)) return Fail(Syntax("invalid UTF-8"), out error);
        foreach (var b in line)
            if (b < 0x20 || b == 0x7F) return Fail(Syntax("control character in command"), out error);

        var text = Encoding.UTF8.GetString(line);
        int sp = text.IndexOf(' ');
        var keyword = sp < 0 ? text : text[..sp];
        var argument = sp < 0 ? "" : text[(sp + 1)..].Trim(' ');
        var verb = keyword.ToUpperInvariant() switch
        {
            "EHLO" => SmtpVerb.Ehlo,
            "HELO" => SmtpVerb.Helo,
            "MAIL" => SmtpVerb.Mail,
            "RCPT" => SmtpVerb.Rcpt,
            "DATA" => SmtpVerb.Data,
            "BDAT" => SmtpVerb.Bdat,
            "RSET" => SmtpVerb.Rset,
            "NOOP" => SmtpVerb.Noop,
            "QUIT" => SmtpVerb.Quit,
            "VRFY" => SmtpVerb.Vrfy,
            "HELP" => SmtpVerb.Help,
            "XID" => SmtpVerb.Xid,
            _ => SmtpVerb.Unknown,
        };
        if (verb == SmtpVerb.Unknown) return Fail(ServerReplies.CommandUnrecognized, out error);

        var cmd = new SmtpCommand(verb, keyword, argument);
        error = verb switch
        {
            SmtpVerb.Ehlo or SmtpVerb.Helo => ParseHello(ref cmd, limits),
            SmtpVerb.Xid => ParseXid(ref cmd, limits),
            SmtpVerb.Mail => ParseMail(ref cmd, limits),
            SmtpVerb.Rcpt => ParseRcpt(ref cmd, limits),
            SmtpVerb.Bdat => ParseBdat(ref cmd),
            // §4.1.1.4, §4.1.1.5, §4.1.1.10: no argument.
            SmtpVerb.Data or SmtpVerb.Rset or SmtpVerb.Quit =>
                argument.Length == 0 ? null : Syntax($"{verb.ToString().ToUpperInvariant()} takes no argument"),
            SmtpVerb.Vrfy => argument.Length > 0 ? null : Syntax("VRFY needs an argument"),
            _ => null, // NOOP and HELP take an optional string (§4.1.1.8, §4.1.1.9)
        };
        if (error is not null) return false;
        command = cmd;
        return true;
    }

    static SmtpReply? ParseHello(ref SmtpCommand cmd, SmtpLimits limits)
    {
        var arg = cmd.Argument;
        if (arg.Length == 0 || arg.Contains(' ')) return Syntax($"{cmd.Keyword.ToUpperInvariant()} hostname");
        if (Utf8Length(arg) > limits.MaxDomainOctets) return Syntax("domain name too long");
        if (!Address.IsDomainOrLiteral(arg)) return Syntax("invalid domain name");
        cmd = cmd with { Domain = arg };
        return null;
    }

    // XID <client-domain> <software> [TXID=<id>]: the greeting-less identification.
    static SmtpReply? ParseXid(ref SmtpCommand cmd, SmtpLimits limits)
    {
        var parts = cmd.Argument.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is < 2 or > 3) return Syntax("XID domain software [TXID=id]");
        var domain = parts[0];
        if (Utf8Length(domain) > limits.MaxDomainOctets) return Syntax("domain name too long");
        if (!Address.IsDomainOrLiteral(domain)) return Syntax("invalid domain name");
        var software = parts[1];
        if (software.Length > 255 || !software.All(c => c is > ' ' and < (char)0x7F))
            return Syntax("invalid software token");
        string? txid = null;
        var parameters = SmtpCommand.NoParameters;
        if (parts.Length == 3)
        {
            var err = Parameters.Parse(parts[2], out var p);
            if (err is not null) return err;
            if (!p.TryGetValue("TXID", out txid) || p.Count != 1) return ServerReplies.ParameterUnsupported;
            if (txid is null || txid.Length > 255) return Syntax("invalid TXID");
            parameters = p;
        }
        cmd = cmd with { Domain = domain, Software = software, TransactionId = txid, Parameters = parameters };
        return null;
    }

    static SmtpReply? ParseMail(ref SmtpCommand cmd, SmtpLimits limits)
    {
        var arg = cmd.Argument;
        if (!arg.StartsWith("FROM:", StringComparison.OrdinalIgnoreCase))
            return Syntax("MAIL FROM:<address>");
        // Lenient on "MAIL FROM: <a@b>" (space after the colon), as most servers are.
        var rest = arg[5..].TrimStart(' ');
        var err = Address.ParsePath(rest, limits, reverse: true, out var path, out int end);
        if (err is not null) return err;
        err = ParseParameterTail(rest, end, out var parameters);
        if (err is not null) return err;
        err = Parameters.ValidateMail(parameters);
        if (err is not null) return err;
        cmd = cmd with { Path = path, Parameters = parameters };
        return null;
    }

    static SmtpReply? ParseRcpt(ref SmtpCommand cmd, SmtpLimits limits)
    {
        var arg = cmd.Argument;
        if (!arg.StartsWith("TO:", StringComparison.OrdinalIgnoreCase))
            return Syntax("RCPT TO:<address>");
        var rest = arg[3..].TrimStart(' ');
        var err = Address.ParsePath(rest, limits, reverse: false, out var path, out int end);
        if (err is not null) return err;
        err = ParseParameterTail(rest, end, out var parameters);
        if (err is not null) return err;
        // No RCPT extension (DSN NOTIFY/ORCPT ...) is offered: RFC 5321 §4.1.1.11.
        if (parameters.Count > 0) return ServerReplies.ParameterUnsupported;
        cmd = cmd with { Path = path, Parameters = parameters };
        return null;
    }

    static SmtpReply? ParseParameterTail(string rest, int end, out IReadOnlyDictionary<string, string?> parameters)
    {
        parameters = SmtpCommand.NoParameters;
        if (end == rest.Length) return null;
        if (rest[end] != ' ') return Syntax("space expected after address");
        return Parameters.Parse(rest[end..], out parameters);
    }

    // RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF
    static SmtpReply? ParseBdat(ref SmtpCommand cmd)
    {
        var parts = cmd.Argument.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length is < 1 or > 2) return Syntax("BDAT size [LAST]");
        var size = parts[0];
        if (size.Length is 0 or > 18 || !size.All(char.IsAsciiDigit)) return Syntax("BDAT size [LAST]");
        bool last = false;
        if (parts.Length == 2)
        {
            if (!parts[1].Equals("LAST", StringComparison.OrdinalIgnoreCase)) return Syntax("BDAT size [LAST]");
            last = true;
        }
        cmd = cmd with { BdatSize = long.Parse(size, System.Globalization.CultureInfo.InvariantCulture), BdatLast = last };
        return null;
    }

    internal static int Utf8Length(string s) => Encoding.UTF8.GetByteCount(s);

    internal static SmtpReply Syntax(string what) => SmtpReply.Single(501, "5.5.4 Syntax error: " + what);

    static bool Fail(SmtpReply reply, out SmtpReply? error)
    {
        error = reply;
        return false;
    }
}
