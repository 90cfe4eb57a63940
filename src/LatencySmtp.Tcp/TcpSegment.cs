using System.Buffers.Binary;

namespace LatencySmtp.Tcp;

/// <summary>A parsed TCP segment (RFC 793 §3.1) that can be emitted back to the wire.</summary>
public sealed record TcpSegment(ushort SourcePort, ushort DestinationPort, uint Seq, uint Ack,
    TcpFlags Flags, ushort Window, TcpOptions Options, ReadOnlyMemory<byte> Payload)
{
    public const int FixedHeaderLength = 20;

    /// <summary>Sequence space the segment occupies: payload plus one each for SYN and FIN.</summary>
    public int SequenceLength => Payload.Length + (Has(TcpFlags.Syn) ? 1 : 0) + (Has(TcpFlags.Fin) ? 1 : 0);

    public int HeaderLength => FixedHeaderLength + Options.EncodedLength;

    public int TotalLength => HeaderLength + Payload.Length;

    public bool Has(TcpFlags flag) => (Flags & flag) == flag;

    /// <summary>Writes header, options and payload with the checksum over the pseudo-header (RFC 793 §3.1); returns the length.</summary>
    public int Emit(Span<byte> destination, uint sourceAddress, uint destinationAddress)
    {
        int header = HeaderLength, total = header + Payload.Length;
        if (destination.Length < total)
            throw new ArgumentException($"Need {total} bytes, got {destination.Length}.", nameof(destination));
        var d = destination[..total];
        BinaryPrimitives.WriteUInt16BigEndian(d, SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(d[2..], DestinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(d[4..], Seq);
        BinaryPrimitives.WriteUInt32BigEndian(d[8..], Ack);
        d[12] = (byte)(header / 4 << 4);
        d[13] = (byte)Flags;
        BinaryPrimitives.WriteUInt16BigEndian(d[14..], Window);
        d[16] = 0; d[17] = 0;           // checksum, filled below
        d[18] = 0; d[19] = 0;           // urgent pointer: URG is never sent
        Options.Write(d[FixedHeaderLength..header]);
        Payload.Span.CopyTo(d[header..]);
        BinaryPrimitives.WriteUInt16BigEndian(d[16..], InternetChecksum.Tcp(d, sourceAddress, destinationAddress));
        return total;
    }

    /// <summary>
    /// Parses and validates a whole TCP segment (header through end of payload). Never throws on
    /// bad input; the payload is copied so the segment outlives <paramref name="tcp"/>.
    /// </summary>
    public static TcpParseStatus TryParse(ReadOnlySpan<byte> tcp, uint sourceAddress, uint destinationAddress, out TcpSegment? segment)
    {
        segment = null;
        if (tcp.Length < FixedHeaderLength) return TcpParseStatus.Truncated;
        int header = (tcp[12] >> 4) * 4;
        if (header < FixedHeaderLength || header > tcp.Length) return TcpParseStatus.BadDataOffset;
        if (InternetChecksum.Tcp(tcp, sourceAddress, destinationAddress) != 0) return TcpParseStatus.BadChecksum;
        if (!TcpOptions.TryParse(tcp[FixedHeaderLength..header], out var options)) return TcpParseStatus.BadOption;
        segment = new TcpSegment(
            BinaryPrimitives.ReadUInt16BigEndian(tcp),
            BinaryPrimitives.ReadUInt16BigEndian(tcp[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]),
            (TcpFlags)tcp[13],
            BinaryPrimitives.ReadUInt16BigEndian(tcp[14..]),
            options,
            tcp.Length > header ? tcp[header..].ToArray() : ReadOnlyMemory<byte>.Empty);
        return TcpParseStatus.Ok;
    }

    public override string ToString()
    {
        var o = Options;
        string opts = string.Join(",", new[]
        {
            o.Mss is { } m ? $"mss={m}" : null, o.CC is { } c ? $"cc={c}" : null, o.CCNew is { } n ? $"ccnew={n}" : null,
            o.CCEcho is { } e ? $"ccecho={e}" : null, o.FastOpenCookie is { } k ? $"tfo={Convert.ToHexString(k)}" : null,
        }.Where(s => s is not null));
        return $"{SourcePort}>{DestinationPort} [{Flags}] seq={Seq} ack={Ack} win={Window} len={Payload.Length}" +
               (opts.Length > 0 ? $" <{opts}>" : "");
    }
}
