using System.Buffers.Binary;

namespace LatencySmtp.Tcp;

/// <summary>The 16-bit one's complement sum of RFC 1071, with the TCP pseudo-header of RFC 793 §3.1.</summary>
internal static class InternetChecksum
{
    public const byte ProtocolTcp = 6;

    /// <summary>Adds <paramref name="data"/> as big-endian 16-bit words (odd tail padded with zero) to a running sum.</summary>
    public static ulong Add(ulong sum, ReadOnlySpan<byte> data)
    {
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
            sum += BinaryPrimitives.ReadUInt32BigEndian(data[i..]);
        for (; i + 2 <= data.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length)
            sum += (uint)data[i] << 8;
        return sum;
    }

    public static ushort Fold(ulong sum)
    {
        while (sum >> 16 != 0)
            sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    public static ulong PseudoHeader(uint source, uint destination, int tcpLength) =>
        (ulong)(source >> 16) + (source & 0xFFFF) + (destination >> 16) + (destination & 0xFFFF)
        + ProtocolTcp + (uint)tcpLength;

    /// <summary>Checksum field value for a TCP segment whose checksum field is zero; 0 on a received segment means valid.</summary>
    public static ushort Tcp(ReadOnlySpan<byte> tcp, uint source, uint destination) =>
        Fold(Add(PseudoHeader(source, destination, tcp.Length), tcp));
}
