using System.Buffers.Binary;

namespace LatencySmtp.Tcp;

/// <summary>
/// The TCP options this stack understands: MSS (kind 2, RFC 793 §3.1), T/TCP's CC, CC.NEW and
/// CC.ECHO (kinds 11/12/13, length 6, RFC 1644 §3.1) and the TFO cookie (kind 34, RFC 7413 §4.1.1).
/// Unknown options are skipped when parsing and never emitted.
/// </summary>
public sealed record TcpOptions
{
    public const byte KindEnd = 0, KindNop = 1, KindMss = 2, KindCC = 11, KindCCNew = 12, KindCCEcho = 13, KindFastOpen = 34;

    /// <summary>Largest option area: data offset 15 words minus the 20-byte fixed header.</summary>
    public const int MaxLength = 40;

    public ushort? Mss { get; init; }
    public uint? CC { get; init; }
    public uint? CCNew { get; init; }
    public uint? CCEcho { get; init; }

    /// <summary>TFO cookie; an empty array is a cookie request (RFC 7413 §4.1.1).</summary>
    public byte[]? FastOpenCookie { get; init; }

    public static TcpOptions None { get; } = new();

    /// <summary>Bytes the options take on the wire, padded to a multiple of 4.</summary>
    public int EncodedLength
    {
        get
        {
            int n = (Mss.HasValue ? 4 : 0) + (CC.HasValue ? 8 : 0) + (CCNew.HasValue ? 8 : 0) + (CCEcho.HasValue ? 8 : 0)
                + (FastOpenCookie is { } c ? 2 + c.Length : 0);
            return (n + 3) & ~3;
        }
    }

    /// <summary>Writes the options; CC options are preceded by two NOPs so their value is 4-byte aligned (as BSD did).</summary>
    internal int Write(Span<byte> destination)
    {
        int length = EncodedLength;
        if (length > MaxLength)
            throw new InvalidOperationException($"TCP options need {length} bytes, more than {MaxLength}.");
        if (FastOpenCookie is { Length: > 16 })
            throw new InvalidOperationException("TFO cookie longer than 16 bytes (RFC 7413 §4.1.1).");
        int p = 0;
        if (Mss is { } mss)
        {
            destination[p] = KindMss; destination[p + 1] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(destination[(p + 2)..], mss);
            p += 4;
        }
        p = WriteCC(destination, p, KindCC, CC);
        p = WriteCC(destination, p, KindCCNew, CCNew);
        p = WriteCC(destination, p, KindCCEcho, CCEcho);
        if (FastOpenCookie is { } cookie)
        {
            destination[p] = KindFastOpen; destination[p + 1] = (byte)(2 + cookie.Length);
            cookie.CopyTo(destination[(p + 2)..]);
            p += 2 + cookie.Length;
        }
        destination[p..length].Clear(); // End-of-option-list padding (RFC 793 §3.1)
        return length;
    }

    private static int WriteCC(Span<byte> d, int p, byte kind, uint? value)
    {
        if (value is not { } v) return p;
        d[p] = KindNop; d[p + 1] = KindNop; d[p + 2] = kind; d[p + 3] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(d[(p + 4)..], v);
        return p + 8;
    }

    /// <summary>
    /// Parses an option area. False when an option's length byte is missing, below 2, runs past
    /// the area, or is wrong for a fixed-length kind we understand; the later of duplicate options wins.
    /// </summary>
    internal static bool TryParse(ReadOnlySpan<byte> area, out TcpOptions options)
    {
        options = None;
        if (area.IsEmpty) return true;
        ushort? mss = null; uint? cc = null, ccNew = null, ccEcho = null; byte[]? cookie = null;
        int p = 0;
        while (p < area.Length)
        {
            byte kind = area[p];
            if (kind == KindEnd) break;
            if (kind == KindNop) { p++; continue; }
            if (p + 1 >= area.Length) return false;
            int len = area[p + 1];
            if (len < 2 || p + len > area.Length) return false;
            var value = area.Slice(p + 2, len - 2);
            switch (kind)
            {
                case KindMss:
                    if (len != 4) return false;
                    mss = BinaryPrimitives.ReadUInt16BigEndian(value);
                    break;
                case KindCC or KindCCNew or KindCCEcho:
                    if (len != 6) return false;
                    uint v = BinaryPrimitives.ReadUInt32BigEndian(value);
                    if (kind == KindCC) cc = v; else if (kind == KindCCNew) ccNew = v; else ccEcho = v;
                    break;
                case KindFastOpen:
                    if (len > 18) return false;
                    cookie = value.ToArray();
                    break;
            }
            p += len;
        }
        options = mss is null && cc is null && ccNew is null && ccEcho is null && cookie is null
            ? None
            : new TcpOptions { Mss = mss, CC = cc, CCNew = ccNew, CCEcho = ccEcho, FastOpenCookie = cookie };
        return true;
    }
}
