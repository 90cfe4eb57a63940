using System.Buffers.Binary;
using System.Net;
using PacketDotNet;

namespace LatencySmtp.Testbed.Analysis;

/// <summary>The fields of one captured TCP segment the analysis needs.</summary>
internal sealed record TcpSegmentRecord(
    int Index,
    decimal Time,
    IPAddress Source,
    ushort SourcePort,
    IPAddress Destination,
    ushort DestinationPort,
    uint Seq,
    uint Ack,
    bool Syn,
    bool AckFlag,
    bool Fin,
    bool Rst,
    int PayloadLength,
    byte[] Payload,
    TcpOptionKinds Options)
{
    /// <summary>The control bits as on the wire (header octet 13).</summary>
    public byte FlagBits { get; init; }

    /// <summary>The option area as on the wire (header beyond its fixed 20 octets), for display.</summary>
    public byte[] OptionBytes { get; init; } = [];

    /// <summary>
    /// Parses a link-layer frame with PacketDotNet. Returns null for anything that is not a well-formed
    /// TCP segment over IPv4/IPv6 (never throws on frame contents).
    /// </summary>
    public static TcpSegmentRecord? TryParse(LinkLayers linkLayer, byte[] frame, int index, decimal time)
    {
        TcpPacket? tcp;
        try
        {
            tcp = Packet.ParsePacket(linkLayer, frame).Extract<TcpPacket>();
        }
        catch (Exception) // PacketDotNet reports malformed headers with assorted exception types
        {
            return null;
        }
        if (tcp?.ParentPacket is not IPPacket ip) return null;
        var ipStart = ip.BytesSegment.Offset;
        var tcpStart = tcp.BytesSegment.Offset;
        if (!ReferenceEquals(ip.BytesSegment.Bytes, frame) || !ReferenceEquals(tcp.BytesSegment.Bytes, frame)) return null;

        // Lengths come from the IP header, not from what the capture kept (snap length, link padding).
        long ipEnd;
        if (ip is IPv4Packet)
        {
            if (frame.Length < ipStart + 4) return null;
            if ((BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(ipStart + 6)) & 0x3fff) != 0) return null; // fragment
            var totalLength = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(ipStart + 2));
            // 0 marks a TSO super-packet captured before segmentation: its length is the frame's.
            ipEnd = totalLength == 0 ? frame.Length : ipStart + totalLength;
        }
        else if (ip is IPv6Packet)
        {
            if (frame.Length < ipStart + 6) return null;
            ipEnd = ipStart + 40 + BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(ipStart + 4));
        }
        else return null;

        var headerLength = tcp.DataOffset * 4;
        if (headerLength < 20 || tcpStart + headerLength > frame.Length) return null;
        var payloadStart = tcpStart + headerLength;
        var payloadLength = (int)Math.Max(0, ipEnd - payloadStart);
        var captured = (int)Math.Clamp(frame.Length - payloadStart, 0, payloadLength);

        var optionArea = frame.AsSpan(tcpStart + 20, headerLength - 20);
        return new TcpSegmentRecord(index, time, ip.SourceAddress, tcp.SourcePort, ip.DestinationAddress, tcp.DestinationPort,
            tcp.SequenceNumber, tcp.AcknowledgmentNumber, tcp.Synchronize, tcp.Acknowledgment, tcp.Finished, tcp.Reset,
            payloadLength, frame.AsSpan(payloadStart, captured).ToArray(), ScanOptions(optionArea))
        {
            FlagBits = frame[tcpStart + 13],
            OptionBytes = optionArea.ToArray(),
        };
    }

    /// <summary>Walks the option list (RFC 9293 §3.1) without trusting it: stops at the first malformed option.</summary>
    private static TcpOptionKinds ScanOptions(ReadOnlySpan<byte> options)
    {
        var kinds = TcpOptionKinds.None;
        var i = 0;
        while (i < options.Length)
        {
            var kind = options[i];
            if (kind == 0) break;                                   // end of option list
            if (kind == 1) { i++; continue; }                       // no-operation
            if (i + 1 >= options.Length) break;
            var length = options[i + 1];
            if (length < 2 || i + length > options.Length) break;
            kinds |= kind switch
            {
                11 or 12 or 13 => TcpOptionKinds.ConnectionCount,  // RFC 1644 CC, CC.NEW, CC.ECHO
                34 => TcpOptionKinds.FastOpen,                       // RFC 7413
                // Experimental TFO option with the 0xF989 ExID (RFC 7413 §4.1.1, pre-IANA Linux).
                254 when length >= 4 && options[i + 2] == 0xF9 && options[i + 3] == 0x89 => TcpOptionKinds.FastOpen,
                _ => TcpOptionKinds.None,
            };
            i += length;
        }
        return kinds;
    }
}

[Flags]
internal enum TcpOptionKinds
{
    None = 0,
    ConnectionCount = 1,
    FastOpen = 2,
}
