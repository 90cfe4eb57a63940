using LatencySmtp.Tcp;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Transport.Raw;

/// <summary>
/// The I/O side of the user-space TCP: frames come in through an AF_PACKET socket (which sees them
/// before the nft netdev-ingress drop that keeps the kernel silent), segments go out through a raw
/// IPv4 socket (the kernel routes and resolves the neighbour).
/// </summary>
public sealed class RawLink : ISegmentLink
{
    private readonly PacketSocket _packets;
    private readonly RawIpv4Socket _raw;
    private readonly byte[] _frame = new byte[65536];
    private readonly byte[] _out = new byte[65536];
    private ushort _ipId;

    private RawLink(PacketSocket packets, RawIpv4Socket raw, uint localAddress)
    {
        _packets = packets;
        _raw = raw;
        LocalAddress = localAddress;
        _ipId = (ushort)Random.Shared.Next(ushort.MaxValue);
    }

    /// <summary>Opens the sockets inside <paramref name="netns"/> (null: current namespace).</summary>
    public static RawLink Open(string? netns, string interfaceName, uint localAddress) =>
        NetNamespace.Run(netns, () =>
        {
            var packets = PacketSocket.Open(interfaceName);
            try
            {
                return new RawLink(packets, RawIpv4Socket.Open(), localAddress);
            }
            catch
            {
                packets.Dispose();
                throw;
            }
        });

    public uint LocalAddress { get; }
    public long SegmentsSent { get; private set; }
    public long SegmentsReceived { get; private set; }
    public long Malformed { get; private set; }

    /// <summary>Segments dropped because the raw socket's send buffer was full (TCP's timers resend what matters).</summary>
    public long SendsDropped { get; private set; }

    /// <summary>Never blocks: one event loop serves every connection, so a full send buffer drops the segment.</summary>
    public void Send(uint destination, TcpSegment segment)
    {
        var n = Ipv4Packet.EmitTcp(_out, LocalAddress, destination, segment, _ipId++);
        if (_raw.TrySend(_out.AsSpan(0, n), destination)) SegmentsSent++;
        else SendsDropped++;
    }

    /// <summary>
    /// Waits at most <paramref name="timeoutMs"/> for a TCP segment addressed to this host on
    /// <paramref name="localPort"/>. Other frames are skipped; malformed ones (bad checksum, truncated)
    /// are counted and dropped.
    /// </summary>
    public bool TryReceive(int timeoutMs, ushort? localPort, out uint source, out TcpSegment segment)
    {
        var until = MonotonicClock.Now + TimeSpan.FromMilliseconds(Math.Max(0, timeoutMs));
        while (true)
        {
            var left = (int)Math.Ceiling((until - MonotonicClock.Now).TotalMilliseconds);
            var n = _packets.Receive(_frame, Math.Max(0, left));
            if (n > 0)
            {
                var frame = _frame.AsSpan(0, n);
                if (Ipv4Packet.TryParseEthernetTcp(frame, out var src, out var dst, out var seg, out var status)
                    && status == TcpParseStatus.Ok && seg is not null)
                {
                    if (dst == LocalAddress && (localPort is null || seg.DestinationPort == localPort))
                    {
                        SegmentsReceived++;
                        source = src;
                        segment = seg;
                        return true;
                    }
                }
                else if (IsTcpTo(frame, LocalAddress))
                {
                    Malformed++;
                }
            }
            if (left <= 0 || (n == 0 && MonotonicClock.Now >= until))
            {
                source = 0;
                segment = null!;
                return false;
            }
        }
    }

    private static bool IsTcpTo(ReadOnlySpan<byte> frame, uint address)
    {
        // IPv4 (EtherType 0x0800), protocol 6, destination = us: a TCP segment for us that did not parse.
        if (frame.Length < 34 || frame[12] != 0x08 || frame[13] != 0x00 || frame[23] != 6) return false;
        var dst = (uint)(frame[30] << 24 | frame[31] << 16 | frame[32] << 8 | frame[33]);
        return dst == address;
    }

    public void Dispose()
    {
        _packets.Dispose();
        _raw.Dispose();
    }
}
