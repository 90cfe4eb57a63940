namespace LatencySmtp.Smtp;

/// <summary>The path grammar of RFC 5321 §4.1.2, with the UTF-8 of RFC 6531 §3.3 allowed in atoms and labels.</summary>
internal static class Address
{
    /// <summary>
    /// Parses "&lt;...&gt;" at the start of s. reverse: MAIL (allows "&lt;&gt;"); else RCPT (allows "&lt;Postmaster&gt;", §4.1.1.3).
    /// path: the mailbox without brackets or source route. end: index after the '&gt;'.
    /// </summary>
    public static SmtpReply? ParsePath(string s, SmtpLimits limits, bool reverse, out string? path, out int end)
    {
        path = null;
        end = 0;
        Func<string, SmtpReply> bad = reverse ? BadSender : BadRecipient;
        if (s.Length == 0 || s[0] != '<') return bad("address must be in angle brackets");
        if (reverse && s.StartsWith("<>", StringComparison.Ordinal))
        {
            path = "";
            end = 2;
            return null;
        }
        int i = 1;
        // §4.1.2 A-d-l: a source route is accepted and ignored (§C).
        if (i < s.Length && s[i] == '@')
        {
            while (true)
            {
                i++; // '@'
                int d = ScanDomain(s, i);
                if (d == i) return bad("bad source route");
                i = d;
                if (i < s.Length && s[i] == ',' && i + 1 < s.Length && s[i + 1] == '@') { i++; continue; }
                if (i < s.Length && s[i] == ':') { i++; break; }
                return bad("bad source route");
            }
        }
        int mailboxStart = i;
        int localEnd = ScanLocalPart(s, i);
        if (localEnd < 0) return bad("bad local part");
        int domainStart, domainEnd;
        if (!reverse && localEnd < s.Length && s[localEnd] == '>'
            && s.AsSpan(i, localEnd - i).Equals("postmaster", StringComparison.OrdinalIgnoreCase))
        {
            domainStart = domainEnd = localEnd;
        }
        else
        {
            if (localEnd >= s.Length || s[localEnd] != '@') return bad("missing @domain");
            domainStart = localEnd + 1;
            domainEnd = domainStart < s.Length && s[domainStart] == '['
                ? ScanAddressLiteral(s, domainStart)
                : ScanDomain(s, domainStart);
            if (domainEnd <= domainStart) return bad("bad domain");
        }
        if (domainEnd >= s.Length || s[domainEnd] != '>') return bad("missing closing >");
        end = domainEnd + 1;
        if (CommandParser.Utf8Length(s[i..localEnd]) > limits.MaxLocalPartOctets) return bad("local part too long");
        if (CommandParser.Utf8Length(s[domainStart..domainEnd]) > limits.MaxDomainOctets) return bad("domain too long");
        if (CommandParser.Utf8Length(s[..end]) > limits.MaxPathOctets) return bad("path too long");
        path = s[mailboxStart..domainEnd];
        return null;
    }

    /// <summary>A Domain or address-literal occupying all of s (EHLO/HELO/XID argument).</summary>
    public static bool IsDomainOrLiteral(string s) =>
        s.Length > 0 && (s[0] == '[' ? ScanAddressLiteral(s, 0) : ScanDomain(s, 0)) == s.Length;

    static SmtpReply BadSender(string why) => SmtpReply.Single(501, "5.1.7 Bad sender address syntax: " + why);
    static SmtpReply BadRecipient(string why) => SmtpReply.Single(501, "5.1.3 Bad recipient address syntax: " + why);

    // Local-part = Dot-string / Quoted-string. Returns the end index or -1.
    static int ScanLocalPart(string s, int i)
    {
        if (i < s.Length && s[i] == '"')
        {
            i++;
            while (i < s.Length)
            {
                char c = s[i];
                if (c == '"') return i + 1;
                if (c == '\\')
                {
                    // quoted-pairSMTP = %d92 %d32-126
                    if (i + 1 >= s.Length || s[i + 1] is < ' ' or > '~') return -1;
                    i += 2;
                    continue;
                }
                // qtextSMTP = %d32-33 / %d35-91 / %d93-126, plus UTF-8 (RFC 6531)
                if (c < ' ' || c == 0x7F) return -1;
                i++;
            }
            return -1;
        }
        int start = i;
        bool atomStart = true;
        while (i < s.Length)
        {
            char c = s[i];
            if (IsAtext(c)) { atomStart = false; i++; }
            else if (c == '.' && !atomStart) { atomStart = true; i++; }
            else break;
        }
        return i == start || atomStart ? -1 : i;
    }

    // atext of RFC 5322 §3.2.3 plus UTF8-non-ascii (RFC 6531 §3.3).
    static bool IsAtext(char c) =>
        char.IsAsciiLetterOrDigit(c) || c > 0x7F || "!#$%&'*+-/=?^_`{|}~".Contains(c);

    // Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]. Underscore tolerated
    // (real host names carry it). Returns the end index; == i when nothing valid was found.
    static int ScanDomain(string s, int i)
    {
        int start = i;
        while (true)
        {
            int label = i;
            while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] is '-' or '_' || s[i] > 0x7F)) i++;
            int len = i - label;
            if (len is 0 or > 63 || s[label] == '-' || s[i - 1] == '-') return start;
            if (i < s.Length && s[i] == '.') { i++; continue; }
            return i;
        }
    }

    // address-literal = "[" ( IPv4 / "IPv6:" IPv6 / General-address-literal ) "]" (§4.1.3).
    static int ScanAddressLiteral(string s, int i)
    {
        int close = s.IndexOf(']', i);
        if (close < 0) return i;
        var content = s[(i + 1)..close];
        if (content.Length == 0 || content.Any(c => c is < '!' or > '~' or '[' or '\\')) return i;
        bool ok;
        if (content.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase))
            ok = System.Net.IPAddress.TryParse(content[5..], out var a)
                 && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        else if (content.Contains(':'))
        {
            // General-address-literal = Standardized-tag ":" 1*dcontent
            int colon = content.IndexOf(':');
            ok = colon > 0 && colon < content.Length - 1 && ScanDomain(content, 0) >= colon
                 && !content[..colon].Contains('.');
        }
        else ok = IsIPv4(content);
        return ok ? close + 1 : i;
    }

    static bool IsIPv4(string s)
    {
        var parts = s.Split('.');
        return parts.Length == 4 && parts.All(p =>
            p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p, System.Globalization.CultureInfo.InvariantCulture) <= 255);
    }
}
