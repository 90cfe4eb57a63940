namespace LatencySmtp.Transport;

/// <summary>The variants compared by every experiment (DESIGN.md, "The variants").</summary>
public enum SmtpVariant
{
    Classic,
    Pipelined,
    EarlyPipe,
    Tfo,
    Ttcp,
    TtcpCookie,
}

public static class SmtpVariants
{
    public static string Name(this SmtpVariant v) => v switch
    {
        SmtpVariant.Classic => "classic",
        SmtpVariant.Pipelined => "pipelined",
        SmtpVariant.EarlyPipe => "early-pipe",
        SmtpVariant.Tfo => "tfo",
        SmtpVariant.Ttcp => "ttcp",
        SmtpVariant.TtcpCookie => "ttcp-cookie",
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };

    public static SmtpVariant Parse(string name) =>
        Enum.GetValues<SmtpVariant>().FirstOrDefault(v => v.Name() == name.Trim().ToLowerInvariant(), (SmtpVariant)(-1)) is var v && (int)v >= 0
            ? v
            : throw new ArgumentException($"unknown variant '{name}' (known: {string.Join(", ", Enum.GetValues<SmtpVariant>().Select(x => x.Name()))})");

    /// <summary>The port each variant's server uses in experiments: one server per variant, so deliveries count apart.</summary>
    public static ushort DefaultPort(this SmtpVariant v) => (ushort)(2525 + (int)v);

    /// <summary>Variants implemented so far; the others are refused with a clear message.</summary>
    public static bool IsImplemented(this SmtpVariant v) => Enum.IsDefined(v);

    /// <summary>
    /// The round-trip model of DESIGN.md: RTTs from the start of the connection until the client holds
    /// the 250 that accepts the message, with <paramref name="recipients"/> recipients, on the lucky path
    /// (warm TAO cache / cookie).
    /// </summary>
    public static int ModelRoundTrips(this SmtpVariant v, int recipients) => v switch
    {
        // SYN/SYN-ACK, 220, EHLO, MAIL, RCPT x n, DATA (354), end of data (250).
        SmtpVariant.Classic => recipients + 6,
        // SYN, 220, EHLO, then MAIL+RCPT..+BDAT LAST grouped (RFC 2920, RFC 3030).
        SmtpVariant.Pipelined => 4,
        // SYN, then the whole greeting-less request.
        SmtpVariant.EarlyPipe => 2,
        SmtpVariant.Tfo or SmtpVariant.Ttcp or SmtpVariant.TtcpCookie => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(v)),
    };
}
