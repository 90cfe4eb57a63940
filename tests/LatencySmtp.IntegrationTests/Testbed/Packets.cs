using System.Buffers.Binary;

namespace LatencySmtp.IntegrationTests.Testbed;

/// <summary>Just enough IPv4/TCP building and Ethernet frame reading for the testbed tests.</summary>
internal static class Packets
{
    public const byte Syn = 0x02, Rst = 0x04, Ack = 0x10;

    public static byte[] TcpSegment(uint source, uint destination, ushort sourcePort, ushort destinationPort, byte flags, uint sequence = 1000, uint ack = 0)
    {
        var packet = new byte[40];
        packet[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), 40);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(6), 0x4000);   // DF
        packet[8] = 64;
        packet[9] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(12), source);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(16), destination);
        var tcp = packet.AsSpan(20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], ack);
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        // RFC 793 checksum over the pseudo-header and the segment; the kernel fills only the IP header's.
        uint sum = (source >> 16) + (source & 0xffff) + (destination >> 16) + (destination & 0xffff) + 6 + 20;
        for (int i = 0; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(tcp[i..]);
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], (ushort)~sum);
        return packet;
    }

    public readonly record struct TcpView(uint Source, uint Destination, ushort SourcePort, ushort DestinationPort, byte Flags);

    /// <summary>Reads an Ethernet frame carrying IPv4/TCP; false for anything else.</summary>
    public static bool TryReadTcp(ReadOnlySpan<byte> frame, out TcpView tcp)
    {
        tcp = default;
        if (frame.Length < 14 + 20 + 20 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != 0x0800) return false;
        var ip = frame[14..];
        int headerLength = (ip[0] & 0x0f) * 4;
        if (ip[0] >> 4 != 4 || ip[9] != 6 || ip.Length < headerLength + 20) return false;
        var segment = ip[headerLength..];
        tcp = new TcpView(BinaryPrimitives.ReadUInt32BigEndian(ip[12..]), BinaryPrimitives.ReadUInt32BigEndian(ip[16..]),
            BinaryPrimitives.ReadUInt16BigEndian(segment), BinaryPrimitives.ReadUInt16BigEndian(segment[2..]), segment[13]);
        return true;
    }
}
