namespace LatencySmtp.Tcp;

/// <summary>Control bits of the TCP header (RFC 793 §3.1, RFC 3168 for ECE/CWR), in header bit order.</summary>
[Flags]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 1,
    Syn = 2,
    Rst = 4,
    Psh = 8,
    Ack = 16,
    Urg = 32,
    Ece = 64,
    Cwr = 128,
}

/// <summary>Outcome of parsing a TCP segment or the IPv4/Ethernet packet around it.</summary>
public enum TcpParseStatus
{
    Ok,
    Truncated,
    BadDataOffset,
    BadOption,
    BadChecksum,
    /// <summary>Not IPv4, not protocol 6, or not EtherType 0x0800.</summary>
    NotTcp,
    /// <summary>A fragment (MF set or offset non-zero): this stack does not reassemble IP.</summary>
    Fragment,
    /// <summary>Bad IPv4 version, IHL, total length or header checksum.</summary>
    BadIpHeader,
}

/// <summary>An IPv4 address (network-order value: 10.0.0.1 == 0x0A000001) and a port.</summary>
public readonly record struct TcpEndpoint(uint Address, ushort Port)
{
    public override string ToString() =>
        $"{Address >> 24}.{(Address >> 16) & 255}.{(Address >> 8) & 255}.{Address & 255}:{Port}";
}

/// <summary>
/// RFC 793 connection states. RFC 1644's starred states are not separate values: see
/// <see cref="Tcb.Star"/> (SYN-SENT* = SYN-SENT with a FIN queued; the other starred states =
/// our SYN not yet acknowledged, i.e. half-synchronized).
/// </summary>
public enum TcpState
{
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

/// <summary>Sequence-number arithmetic modulo 2^32 (RFC 793 §3.3; RFC 1982 style).</summary>
internal static class Seq
{
    public static bool Lt(uint a, uint b) => (int)(a - b) < 0;
    public static bool Le(uint a, uint b) => (int)(a - b) <= 0;
    public static bool Gt(uint a, uint b) => (int)(a - b) > 0;
    public static bool Ge(uint a, uint b) => (int)(a - b) >= 0;
    public static uint Max(uint a, uint b) => Gt(a, b) ? a : b;
}
