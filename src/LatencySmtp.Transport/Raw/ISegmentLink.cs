using LatencySmtp.Tcp;

namespace LatencySmtp.Transport.Raw;

/// <summary>
/// What the user-space TCP's drivers need from the network: send a segment to an IPv4 host, receive the next
/// one addressed to this host. <see cref="RawLink"/> on the wire; an in-process link in tests.
/// </summary>
public interface ISegmentLink : IDisposable
{
    uint LocalAddress { get; }

    /// <summary>Segments for this host that did not parse (bad checksum, truncated): counted, dropped.</summary>
    long Malformed { get; }

    void Send(uint destination, TcpSegment segment);

    /// <summary>Waits at most <paramref name="timeoutMs"/> for a segment addressed to this host (and to
    /// <paramref name="localPort"/>, unless null).</summary>
    bool TryReceive(int timeoutMs, ushort? localPort, out uint source, out TcpSegment segment);
}
