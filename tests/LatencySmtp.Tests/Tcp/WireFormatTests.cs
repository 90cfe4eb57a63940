using LatencySmtp.Tcp;

namespace LatencySmtp.Tests.Tcp;

public class WireFormatTests
{
    private const uint A = 0x0A000001, B = 0x0A000002;

    // IPv4 + TCP SYN|FIN 10.0.0.1:40000 -> 10.0.0.2:25, seq 0x01020304, MSS 1460, NOP NOP CC=7, payload "HELO".
    // Checksums computed independently (Python, RFC 1071 sum over the pseudo-header + segment).
    private static readonly byte[] KnownSyn =
    [
        0x45, 0x00, 0x00, 0x38, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x14, 0x8A, 0x0A, 0x00, 0x00, 0x01,
        0x0A, 0x00, 0x00, 0x02, 0x9C, 0x40, 0x00, 0x19, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00,
        0x80, 0x03, 0xFF, 0xFF, 0x23, 0x15, 0x00, 0x00, 0x02, 0x04, 0x05, 0xB4, 0x01, 0x01, 0x0B, 0x06,
        0x00, 0x00, 0x00, 0x07, 0x48, 0x45, 0x4C, 0x4F,
    ];

    private static TcpSegment KnownSegment() => new(40000, 25, 0x01020304, 0, TcpFlags.Syn | TcpFlags.Fin, 65535,
        new TcpOptions { Mss = 1460, CC = 7 }, "HELO"u8.ToArray());

    [Fact]
    public void Rfc1071_example_sum()
    {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is its complement.
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        Assert.Equal((ushort)0x220d, InternetChecksum.Fold(InternetChecksum.Add(0, data)));
    }

    [Fact]
    public void Emit_matches_known_good_packet_byte_for_byte()
    {
        var seg = KnownSegment();
        Assert.Equal(32, seg.HeaderLength);
        Assert.Equal(6, seg.SequenceLength);
        var buffer = new byte[100];
        int n = Ipv4Packet.EmitTcp(buffer, A, B, seg, identification: 0x1234);
        Assert.Equal(KnownSyn, buffer[..n]);
    }

    [Fact]
    public void Parse_known_good_packet()
    {
        Assert.True(Ipv4Packet.TryParseTcp(KnownSyn, out var src, out var dst, out var seg, out var status));
        Assert.Equal(TcpParseStatus.Ok, status);
        Assert.Equal(A, src);
        Assert.Equal(B, dst);
        Assert.NotNull(seg);
        Assert.Equal((ushort)40000, seg.SourcePort);
        Assert.Equal((ushort)25, seg.DestinationPort);
        Assert.Equal(0x01020304u, seg.Seq);
        Assert.Equal(TcpFlags.Syn | TcpFlags.Fin, seg.Flags);
        Assert.Equal((ushort)1460, seg.Options.Mss);
        Assert.Equal(7u, seg.Options.CC);
        Assert.Null(seg.Options.CCNew);
        Assert.Equal("HELO"u8.ToArray(), seg.Payload.ToArray());
    }

    [Fact]
    public void Round_trip_all_options()
    {
        var seg = new TcpSegment(1, 2, 0xFFFFFFFF, 0x80000000, TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Fin | TcpFlags.Psh, 1234,
            new TcpOptions { Mss = 536, CC = 0xDEADBEEF, CCEcho = 42, FastOpenCookie = [1, 2, 3, 4, 5, 6, 7, 8] },
            new byte[] { 9, 8, 7 });
        var buffer = new byte[200];
        int n = seg.Emit(buffer, B, A);
        Assert.Equal(seg.HeaderLength + 3, n);
        Assert.Equal(0, seg.HeaderLength % 4);
        Assert.Equal(TcpParseStatus.Ok, TcpSegment.TryParse(buffer.AsSpan(0, n), B, A, out var back));
        Assert.NotNull(back);
        Assert.Equal(seg.Seq, back.Seq);
        Assert.Equal(seg.Ack, back.Ack);
        Assert.Equal(seg.Flags, back.Flags);
        Assert.Equal(seg.Window, back.Window);
        Assert.Equal(seg.Options.Mss, back.Options.Mss);
        Assert.Equal(seg.Options.CC, back.Options.CC);
        Assert.Equal(seg.Options.CCEcho, back.Options.CCEcho);
        Assert.Null(back.Options.CCNew);
        Assert.Equal(seg.Options.FastOpenCookie, back.Options.FastOpenCookie);
        Assert.Equal(seg.Payload.ToArray(), back.Payload.ToArray());
        Assert.Same(TcpOptions.None, Parse(new TcpSegment(1, 2, 3, 4, TcpFlags.Ack, 5, TcpOptions.None, default)).Options);
    }

    [Fact]
    public void Checksum_covers_pseudo_header_and_every_byte()
    {
        var bytes = KnownSyn[20..];
        Assert.Equal(TcpParseStatus.Ok, TcpSegment.TryParse(bytes, A, B, out _));
        Assert.Equal(TcpParseStatus.BadChecksum, TcpSegment.TryParse(bytes, A, B + 1, out var none));
        Assert.Null(none);
        for (int i = 0; i < bytes.Length; i++)
        {
            var copy = (byte[])bytes.Clone();
            copy[i] ^= 0x10;
            var status = TcpSegment.TryParse(copy, A, B, out _);
            Assert.NotEqual(TcpParseStatus.Ok, status);
        }
    }

    [Theory]
    [InlineData(new byte[] { 2, 3, 5, 0xB4 }, "MSS with length 3")]
    [InlineData(new byte[] { 11, 4, 0, 0 }, "CC with length 4")]
    [InlineData(new byte[] { 13, 8, 0, 0, 0, 0, 0, 0 }, "CC.ECHO with length 8")]
    [InlineData(new byte[] { 1, 1, 1, 99 }, "kind without a length byte")]
    [InlineData(new byte[] { 99, 1, 0, 0 }, "length below 2")]
    [InlineData(new byte[] { 99, 9, 0, 0 }, "length past the option area")]
    [InlineData(new byte[] { 34, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, "cookie longer than 16")]
    public void Malformed_options_are_rejected(byte[] options, string why)
    {
        var bytes = WithRawOptions(options);
        Assert.True(TcpParseStatus.BadOption == TcpSegment.TryParse(bytes, A, B, out var seg), why);
        Assert.Null(seg);
    }

    [Fact]
    public void Unknown_options_are_skipped_and_end_of_list_stops_parsing()
    {
        // SACK-permitted (4,2), timestamps (8,10), then MSS, then EOL followed by garbage.
        byte[] options = [4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 2, 4, 0x02, 0x18, 0, 0xFF, 0xFF, 0xFF];
        Assert.Equal(TcpParseStatus.Ok, TcpSegment.TryParse(WithRawOptions(options), A, B, out var seg));
        Assert.Equal((ushort)536, seg!.Options.Mss);
    }

    [Fact]
    public void Bad_data_offset_and_truncation()
    {
        var bytes = KnownSyn[20..];
        Assert.Equal(TcpParseStatus.Truncated, TcpSegment.TryParse(bytes.AsSpan(0, 19), A, B, out _));
        var low = (byte[])bytes.Clone();
        low[12] = 0x40; // 16 bytes < 20
        Assert.Equal(TcpParseStatus.BadDataOffset, TcpSegment.TryParse(low, A, B, out _));
        var high = (byte[])bytes.Clone();
        high[12] = 0xF0; // 60 bytes > 36
        Assert.Equal(TcpParseStatus.BadDataOffset, TcpSegment.TryParse(high, A, B, out _));
    }

    [Fact]
    public void Ipv4_rejects_what_it_must()
    {
        Assert.False(Ipv4Packet.TryParseTcp(KnownSyn.AsSpan(0, 10), out _, out _, out _, out var s1));
        Assert.Equal(TcpParseStatus.Truncated, s1);

        var badSum = (byte[])KnownSyn.Clone();
        badSum[8] = 63; // TTL changed, header checksum not
        Assert.False(Ipv4Packet.TryParseTcp(badSum, out _, out _, out _, out var s2));
        Assert.Equal(TcpParseStatus.BadIpHeader, s2);

        var udp = Reheader(KnownSyn, p => p[9] = 17);
        Assert.False(Ipv4Packet.TryParseTcp(udp, out _, out _, out _, out var s3));
        Assert.Equal(TcpParseStatus.NotTcp, s3);

        var fragment = Reheader(KnownSyn, p => p[6] = 0x20); // MF
        Assert.False(Ipv4Packet.TryParseTcp(fragment, out _, out _, out _, out var s4));
        Assert.Equal(TcpParseStatus.Fragment, s4);

        var longer = Reheader(KnownSyn, p => p[3] = 0x40); // total length 64 > 56 bytes present
        Assert.False(Ipv4Packet.TryParseTcp(longer, out _, out _, out _, out var s5));
        Assert.Equal(TcpParseStatus.BadIpHeader, s5);

        var ihl = Reheader(KnownSyn, p => p[0] = 0x44);
        Assert.False(Ipv4Packet.TryParseTcp(ihl, out _, out _, out _, out var s6));
        Assert.Equal(TcpParseStatus.BadIpHeader, s6);

        var badTcp = (byte[])KnownSyn.Clone();
        badTcp[^1] ^= 1;
        Assert.False(Ipv4Packet.TryParseTcp(badTcp, out _, out _, out var seg, out var s7));
        Assert.Equal(TcpParseStatus.BadChecksum, s7);
        Assert.Null(seg);
    }

    [Fact]
    public void Ipv4_ignores_trailing_padding_and_honours_ihl_options()
    {
        var padded = KnownSyn.Concat(new byte[10]).ToArray();
        Assert.True(Ipv4Packet.TryParseTcp(padded, out _, out _, out var seg, out _));
        Assert.Equal("HELO"u8.ToArray(), seg!.Payload.ToArray());

        // IHL 6 with a 4-byte NOP option row.
        var withOptions = KnownSyn[..20].Concat(new byte[] { 1, 1, 1, 0 }).Concat(KnownSyn[20..]).ToArray();
        withOptions[0] = 0x46;
        withOptions[3] += 4;
        FixIpChecksum(withOptions, 24);
        Assert.True(Ipv4Packet.TryParseTcp(withOptions, out _, out _, out seg, out var status), status.ToString());
        Assert.Equal(0x01020304u, seg!.Seq);
    }

    [Fact]
    public void Ethernet_frame()
    {
        var frame = new byte[14].Concat(KnownSyn).ToArray();
        frame[12] = 0x08; frame[13] = 0x00;
        Assert.True(Ipv4Packet.TryParseEthernetTcp(frame, out var src, out _, out var seg, out _));
        Assert.Equal(A, src);
        Assert.Equal(0x01020304u, seg!.Seq);
        frame[12] = 0x86; frame[13] = 0xDD; // IPv6
        Assert.False(Ipv4Packet.TryParseEthernetTcp(frame, out _, out _, out _, out var status));
        Assert.Equal(TcpParseStatus.NotTcp, status);
        Assert.False(Ipv4Packet.TryParseEthernetTcp(frame.AsSpan(0, 13), out _, out _, out _, out status));
        Assert.Equal(TcpParseStatus.Truncated, status);
    }

    [Fact]
    public void Random_garbage_never_throws()
    {
        var rng = new Random(1644);
        int ok = 0;
        for (int i = 0; i < 20000; i++)
        {
            var b = new byte[rng.Next(0, 80)];
            rng.NextBytes(b);
            if (b.Length > 0 && rng.Next(2) == 0) b[0] = 0x45;
            if (Ipv4Packet.TryParseTcp(b, out _, out _, out _, out _)) ok++;
            TcpSegment.TryParse(b, A, B, out _);
        }
        // Mutations of a valid packet: every parse returns a status, and a changed byte is never Ok+identical.
        for (int i = 0; i < 5000; i++)
        {
            var b = (byte[])KnownSyn.Clone();
            b[rng.Next(b.Length)] = (byte)rng.Next(256);
            Ipv4Packet.TryParseTcp(b, out _, out _, out _, out _);
        }
        Assert.True(ok < 5);
    }

    private static TcpSegment Parse(TcpSegment seg)
    {
        var buffer = new byte[seg.TotalLength];
        seg.Emit(buffer, A, B);
        Assert.Equal(TcpParseStatus.Ok, TcpSegment.TryParse(buffer, A, B, out var back));
        return back!;
    }

    /// <summary>A 20-byte header plus the given option bytes (padded with zeros), correct checksum.</summary>
    private static byte[] WithRawOptions(byte[] options)
    {
        int optLen = (options.Length + 3) & ~3;
        var b = new byte[20 + optLen];
        b[0] = 0x9C; b[1] = 0x40; b[3] = 25;
        b[12] = (byte)((20 + optLen) / 4 << 4);
        b[13] = (byte)TcpFlags.Syn;
        options.CopyTo(b, 20);
        ushort sum = InternetChecksum.Tcp(b, A, B);
        b[16] = (byte)(sum >> 8); b[17] = (byte)sum;
        return b;
    }

    private static byte[] Reheader(byte[] packet, Action<byte[]> change)
    {
        var p = (byte[])packet.Clone();
        change(p);
        FixIpChecksum(p, (p[0] & 0xF) * 4);
        return p;
    }

    private static void FixIpChecksum(byte[] p, int ihl)
    {
        p[10] = p[11] = 0;
        ushort sum = InternetChecksum.Fold(InternetChecksum.Add(0, p.AsSpan(0, Math.Min(ihl, p.Length))));
        p[10] = (byte)(sum >> 8); p[11] = (byte)sum;
    }
}
