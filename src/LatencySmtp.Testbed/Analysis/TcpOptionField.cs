using System.Buffers.Binary;
using System.Globalization;

namespace LatencySmtp.Testbed.Analysis;

/// <summary>One TCP option as captured, in wire order: its kind and the octets after the kind and length bytes.</summary>
public sealed record TcpOptionField(byte Kind, byte[] Value, bool Malformed = false)
{
    /// <summary>
    /// Splits an option area (RFC 9293 §3.1) into its options, NOPs included, without trusting it: the end of
    /// option list and anything after it (padding) are left out, and a malformed option ends the list with
    /// a <see cref="Malformed"/> field holding the rest of the area.
    /// </summary>
    public static IReadOnlyList<TcpOptionField> Parse(ReadOnlySpan<byte> area)
    {
        var fields = new List<TcpOptionField>();
        var i = 0;
        while (i < area.Length)
        {
            var kind = area[i];
            if (kind == 0) break;                                              // end of option list
            if (kind == 1) { fields.Add(new TcpOptionField(1, [])); i++; continue; }
            var length = i + 1 < area.Length ? area[i + 1] : 0;
            if (length < 2 || i + length > area.Length)
            {
                fields.Add(new TcpOptionField(kind, area[i..].ToArray(), Malformed: true));
                break;
            }
            fields.Add(new TcpOptionField(kind, area.Slice(i + 2, length - 2).ToArray()));
            i += length;
        }
        return fields;
    }

    /// <summary>
    /// The option as a reader of a trace names it: MSS (RFC 9293), WS, SACK_PERM, SACK, TS (RFC 7323, RFC 2018),
    /// CC, CC.NEW, CC.ECHO (RFC 1644 §3.1), TFO cookie or cookie request (kind 34, and the experimental kind 254
    /// with ExID 0xF989, RFC 7413 §4.1.1); anything else, or a known kind of the wrong length, as "kind K len L".
    /// </summary>
    public override string ToString()
    {
        var v = Value;
        if (Malformed) return $"malformed {Hex(v)}";
        return (Kind, v.Length) switch
        {
            (1, _) => "NOP",
            (2, 2) => $"MSS {BinaryPrimitives.ReadUInt16BigEndian(v)}",
            (3, 1) => $"WS {v[0]}",
            (4, 0) => "SACK_PERM",
            (5, > 0) when v.Length % 8 == 0 => "SACK " + string.Join(' ', Enumerable.Range(0, v.Length / 8).Select(b =>
                $"{BinaryPrimitives.ReadUInt32BigEndian(v.AsSpan(8 * b))}-{BinaryPrimitives.ReadUInt32BigEndian(v.AsSpan(8 * b + 4))}")),
            (8, 8) => $"TS val={BinaryPrimitives.ReadUInt32BigEndian(v)} ecr={BinaryPrimitives.ReadUInt32BigEndian(v.AsSpan(4))}",
            (11, 4) => $"CC {BinaryPrimitives.ReadUInt32BigEndian(v)}",
            (12, 4) => $"CC.NEW {BinaryPrimitives.ReadUInt32BigEndian(v)}",
            (13, 4) => $"CC.ECHO {BinaryPrimitives.ReadUInt32BigEndian(v)}",
            (34, 0) => "TFO cookie request",
            (34, _) => $"TFO cookie {Hex(v)}",
            (254, 2) when v[0] == 0xF9 && v[1] == 0x89 => "TFO(exp) cookie request",
            (254, > 2) when v[0] == 0xF9 && v[1] == 0x89 => $"TFO(exp) cookie {Hex(v.AsSpan(2))}",
            _ => $"kind {Kind} len {v.Length + 2}",
        };
    }

    private static string Hex(ReadOnlySpan<byte> v) => Convert.ToHexString(v).ToLower(CultureInfo.InvariantCulture);
}
