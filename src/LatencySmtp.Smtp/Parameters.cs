namespace LatencySmtp.Smtp;

/// <summary>ESMTP parameters: esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 §4.1.2).</summary>
internal static class Parameters
{
    /// <summary>Parses space-separated parameters; keys are upper-cased, duplicates are a syntax error.</summary>
    public static SmtpReply? Parse(string s, out IReadOnlyDictionary<string, string?> parameters)
    {
        parameters = SmtpCommand.NoParameters;
        var dict = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var p in s.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = p.IndexOf('=');
            var key = eq < 0 ? p : p[..eq];
            string? value = eq < 0 ? null : p[(eq + 1)..];
            // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
            if (key.Length == 0 || key[0] == '-' || !key.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
                return CommandParser.Syntax("bad parameter keyword");
            // esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 allowed by RFC 6531
            if (value is not null && (value.Length == 0 || value.Any(c => c is < '!' or '=' or (char)0x7F)))
                return CommandParser.Syntax("bad parameter value");
            if (!dict.TryAdd(key.ToUpperInvariant(), value)) return CommandParser.Syntax("duplicate parameter");
        }
        parameters = dict.AsReadOnly();
        return null;
    }

    /// <summary>The MAIL parameters the EHLO reply offers: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531).</summary>
    public static SmtpReply? ValidateMail(IReadOnlyDictionary<string, string?> parameters)
    {
        foreach (var (key, value) in parameters)
        {
            switch (key)
            {
                case "SIZE":
                    if (value is null || value.Length > 20 || !value.All(char.IsAsciiDigit))
                        return CommandParser.Syntax("SIZE=<octets>");
                    break;
                case "BODY":
                    if (value is null) return CommandParser.Syntax("BODY=7BIT|8BITMIME");
                    if (!value.Equals("7BIT", StringComparison.OrdinalIgnoreCase)
                        && !value.Equals("8BITMIME", StringComparison.OrdinalIgnoreCase))
                        return SmtpReply.Single(504, "5.5.4 Unsupported BODY type");
                    break;
                case "SMTPUTF8":
                    if (value is not null) return CommandParser.Syntax("SMTPUTF8 takes no value");
                    break;
                default:
                    return ServerReplies.ParameterUnsupported;
            }
        }
        return null;
    }

    /// <summary>SIZE as a number; a value too large for a long counts as long.MaxValue (it is too big either way).</summary>
    public static long? Size(IReadOnlyDictionary<string, string?> parameters) =>
        parameters.TryGetValue("SIZE", out var v) && v is not null
            ? (long.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : long.MaxValue)
            : null;
}
