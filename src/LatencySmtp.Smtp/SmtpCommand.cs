namespace LatencySmtp.Smtp;

/// <summary>The commands this implementation knows (RFC 5321 §4.1.1, RFC 3030 BDAT, XID of the greeting-less proposal).</summary>
public enum SmtpVerb { Unknown, Ehlo, Helo, Mail, Rcpt, Data, Bdat, Rset, Noop, Quit, Vrfy, Help, Xid }

/// <summary>A parsed command line.</summary>
/// <param name="Verb">The command.</param>
/// <param name="Keyword">The keyword as the client spelled it.</param>
/// <param name="Argument">Everything after the keyword, trimmed of spaces.</param>
public sealed record SmtpCommand(SmtpVerb Verb, string Keyword, string Argument)
{
    internal static readonly IReadOnlyDictionary<string, string?> NoParameters =
        new Dictionary<string, string?>(StringComparer.Ordinal).AsReadOnly();

    /// <summary>EHLO/HELO/XID: the client's domain or address literal.</summary>
    public string? Domain { get; init; }
    /// <summary>MAIL/RCPT: the mailbox without angle brackets or source route; "" for the null path &lt;&gt;.</summary>
    public string? Path { get; init; }
    /// <summary>MAIL/RCPT/XID: ESMTP parameters (RFC 5321 §4.1.2), keys upper-case, null value for a bare keyword.</summary>
    public IReadOnlyDictionary<string, string?> Parameters { get; init; } = NoParameters;
    /// <summary>BDAT: chunk size in octets (RFC 3030 §2).</summary>
    public long BdatSize { get; init; }
    /// <summary>BDAT: the LAST end marker was given.</summary>
    public bool BdatLast { get; init; }
    /// <summary>XID: the client software token.</summary>
    public string? Software { get; init; }
    /// <summary>XID: the TXID parameter, if any.</summary>
    public string? TransactionId { get; init; }
}
