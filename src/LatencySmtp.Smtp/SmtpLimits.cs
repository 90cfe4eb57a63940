namespace LatencySmtp.Smtp;

/// <summary>Size limits of RFC 5321 §4.5.3.1; the defaults are the RFC minimums every server must accept.</summary>
public sealed record SmtpLimits
{
    /// <summary>§4.5.3.1.4: command line, including the CRLF.</summary>
    public int MaxCommandLineOctets { get; init; } = 512;
    /// <summary>§4.5.3.1.6: text line of DATA, including the CRLF, not counting a stuffed leading dot.</summary>
    public int MaxTextLineOctets { get; init; } = 1000;
    /// <summary>§4.5.3.1.5: reply line, including the reply code and the CRLF.</summary>
    public int MaxReplyLineOctets { get; init; } = 512;
    /// <summary>§4.5.3.1.1.</summary>
    public int MaxLocalPartOctets { get; init; } = 64;
    /// <summary>§4.5.3.1.2.</summary>
    public int MaxDomainOctets { get; init; } = 255;
    /// <summary>§4.5.3.1.3: reverse- or forward-path including the angle brackets.</summary>
    public int MaxPathOctets { get; init; } = 256;
    /// <summary>§4.5.3.1.8: the RFC minimum is 100; more get 452 (§4.5.3.1.10).</summary>
    public int MaxRecipients { get; init; } = 100;
    /// <summary>§4.5.3.1.7 leaves the message size to the server; announced with SIZE (RFC 1870).</summary>
    public long MaxMessageOctets { get; init; } = 10 * 1024 * 1024;
    /// <summary>
    /// Input the server holds while a delivery is pending (commands pipelined behind the end of data).
    /// Beyond it the session answers 421 once the delivery completes and closes: memory stays bounded.
    /// </summary>
    public int MaxPipelinedInputOctets { get; init; } = 256 * 1024;

    /// <summary>The RFC 5321 minimum limits (the defaults).</summary>
    public static SmtpLimits Rfc5321 { get; } = new();
}
