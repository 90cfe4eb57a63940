using System.Buffers.Binary;

namespace LatencySmtp.Tcp;

/// <summary>IPv4 header (RFC 791 §3.1) around a TCP segment, and the Ethernet II frame around that.</summary>
public static class Ipv4Packet
{
    public const int HeaderLength = 20;
    public const int EthernetHeaderLength = 14;
    public const ushort EtherTypeIpv4 = 0x0800;

    /// <summary>Writes a 20-byte IPv4 header (DF set, header checksum) followed by the segment; returns the packet length.</summary>
    public static int EmitTcp(Span<byte> destination, uint source, uint dest, TcpSegment segment, ushort identification, byte ttl = 64)
    {
        ArgumentNullException.ThrowIfNull(segment);
        int total = HeaderLength + segment.TotalLength;
        if (total > ushort.MaxValue) throw new ArgumentException("Packet longer than 65535 bytes.", nameof(segment));
        if (destination.Length < total)
            throw new ArgumentException($"Need {total} bytes, got {destination.Length}.", nameof(destination));
        var h = destination[..HeaderLength];
        h[0] = 0x45;                     // version 4, IHL 5
        h[1] = 0;                        // DSCP/ECN
        BinaryPrimitives.WriteUInt16BigEndian(h[2..], (ushort)total);
        BinaryPrimitives.WriteUInt16BigEndian(h[4..], identification);
        BinaryPrimitives.WriteUInt16BigEndian(h[6..], 0x4000); // DF, offset 0: path MTU is the MSS's job
        h[8] = ttl;
        h[9] = InternetChecksum.ProtocolTcp;
        h[10] = 0; h[11] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(h[12..], source);
        BinaryPrimitives.WriteUInt32BigEndian(h[16..], dest);
        BinaryPrimitives.WriteUInt16BigEndian(h[10..], InternetChecksum.Fold(InternetChecksum.Add(0, h)));
        segment.Emit(destination[HeaderLength..], source, dest);
        return total;
    }

    /// <summary>
    /// Parses an IPv4 packet carrying TCP. False (with a status saying why) for non-TCP, fragments,
    /// bad version/IHL/total length/header checksum, or a TCP segment that fails to parse. Trailing
    /// bytes beyond the IPv4 total length (Ethernet padding) are ignored.
    /// </summary>
    public static bool TryParseTcp(ReadOnlySpan<byte> ipPacket, out uint source, out uint dest, out TcpSegment? segment, out TcpParseStatus status)
    {
        source = dest = 0;
        segment = null;
        if (ipPacket.Length < HeaderLength) { status = TcpParseStatus.Truncated; return false; }
        if (ipPacket[0] >> 4 != 4) { status = TcpParseStatus.NotTcp; return false; }
        int ihl = (ipPacket[0] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ipPacket[2..]);
        if (ihl < HeaderLength || ihl > ipPacket.Length || total < ihl || total > ipPacket.Length)
        { status = TcpParseStatus.BadIpHeader; return false; }
        if (InternetChecksum.Fold(InternetChecksum.Add(0, ipPacket[..ihl])) != 0) { status = TcpParseStatus.BadIpHeader; return false; }
        source = BinaryPrimitives.ReadUInt32BigEndian(ipPacket[12..]);
        dest = BinaryPrimitives.ReadUInt32BigEndian(ipPacket[16..]);
        if (ipPacket[9] != InternetChecksum.ProtocolTcp) { status = TcpParseStatus.NotTcp; return false; }
        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(ipPacket[6..]);
        if ((fragment & 0x3FFF) != 0) { status = TcpParseStatus.Fragment; return false; } // MF or offset
        status = TcpSegment.TryParse(ipPacket[ihl..total], source, dest, out segment);
        return status == TcpParseStatus.Ok;
    }

    /// <summary>As <see cref="TryParseTcp"/> after a 14-byte Ethernet II header; only EtherType 0x0800 (no VLAN tags).</summary>
    public static bool TryParseEthernetTcp(ReadOnlySpan<byte> frame, out uint source, out uint dest, out TcpSegment? segment, out TcpParseStatus status)
    {
        source = dest = 0;
        segment = null;
        if (frame.Length < EthernetHeaderLength) { status = TcpParseStatus.Truncated; return false; }
        if (BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherTypeIpv4) { status = TcpParseStatus.NotTcp; return false; }
        return TryParseTcp(frame[EthernetHeaderLength..], out source, out dest, out segment, out status);
    }
}
