namespace LatencySmtp.Tcp;

/// <summary>Tunables of one T/TCP endpoint host.</summary>
public sealed class TtcpOptions
{
    /// <summary>MSS we advertise; also the send MSS assumed for a host whose MSS is not cached yet.</summary>
    public ushort Mss { get; init; } = 1460;

    /// <summary>RFC 6298 §2.1.</summary>
    public TimeSpan InitialRto { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>RFC 6298 §2.4 lower bound on the computed RTO.</summary>
    public TimeSpan MinRto { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>RFC 6298 §2.5 upper bound (at least 60 s).</summary>
    public TimeSpan MaxRto { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Timeouts tolerated for one segment; the next one aborts with "retransmission limit reached".</summary>
    public int MaxRetransmissions { get; init; } = 6;

    /// <summary>
    /// How long an ACK (on the server: the SYN-ACK) may wait for the application's response to piggyback
    /// on it; RFC 1122 §4.2.3.2 allows delaying an ACK up to 0.5 s.
    /// </summary>
    public TimeSpan ResponseHoldTime { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan Msl { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Send and honour RFC 1644 CC options (TAO); off = plain RFC 793 with data on the SYN.</summary>
    public bool UseCC { get; init; } = true;

    /// <summary>
    /// A connection that receives nothing for this long is abandoned ("connection timed out"); covers a
    /// peer that vanished while we wait in FIN-WAIT-2 or for the rest of a request. Keep it above the
    /// whole retransmission span (about 2 min with the defaults).
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Segments the client may send before its SYN is acknowledged (RFC 1644 §3.5 lets a T/TCP client send up to a default window).</summary>
    public int InitialWindowSegments { get; init; } = 4;

    /// <summary>
    /// ttcp-cookie (RFC 7413-style): clients ask for and send a cookie; a server acts on SYN data before the
    /// handshake only with a valid cookie (a TAO pass alone is not enough, CCs can be guessed).
    /// </summary>
    public bool UseCookie { get; init; }

    /// <summary>With <see cref="UseCookie"/>: require the TAO test to pass as well as the cookie.</summary>
    public bool CookieRequiresTao { get; init; }

    /// <summary>Server key period; a cookie lives at most twice this (<see cref="TfoCookieIssuer.MaxLifetime"/>).</summary>
    public TimeSpan CookieRotation { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Server secret the cookie keys derive from (at least 16 bytes); null: random per host.</summary>
    public byte[]? CookieSecret { get; init; }

    /// <summary>Bytes of received data we buffer for the application; the window we advertise (no scaling).</summary>
    public int ReceiveBufferSize { get; init; } = 65535;
}
