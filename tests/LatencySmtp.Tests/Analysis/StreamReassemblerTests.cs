using FsCheck.Xunit;
using LatencySmtp.Testbed.Analysis;

namespace LatencySmtp.Tests.Analysis;

public sealed class StreamReassemblerTests
{
    private static byte[] Bytes(string s) => System.Text.Encoding.ASCII.GetBytes(s);

    [Fact]
    public void Duplicates_and_overlaps_are_ignored_and_new_data_is_reported()
    {
        var r = new StreamReassembler(1024);
        Assert.True(r.Add(0, 5, Bytes("hello"), index: 1, time: 1m));
        Assert.False(r.Add(0, 5, Bytes("hello"), index: 2, time: 2m));        // exact duplicate
        Assert.True(r.Add(3, 5, Bytes("lo, w"), index: 3, time: 3m));         // overlaps, extends
        Assert.False(r.Add(1, 3, Bytes("XXX"), index: 4, time: 4m));          // overlap inside: first copy wins
        Assert.Equal("hello, w", System.Text.Encoding.ASCII.GetString(r.Contiguous));
        Assert.Equal(8, r.HighestEnd);
        Assert.Equal((1, 1m), r.DeliveryOf(4));
        Assert.Equal((3, 3m), r.DeliveryOf(5));
        Assert.Equal((3, 3m), r.DeliveryOf(7));
        Assert.Throws<ArgumentOutOfRangeException>(() => r.DeliveryOf(8));
    }

    [Fact]
    public void A_gap_filled_later_delivers_the_held_bytes_at_the_filling_segment()
    {
        var r = new StreamReassembler(1024);
        Assert.True(r.Add(5, 5, Bytes("world"), index: 10, time: 1m));
        Assert.Equal(0, r.Contiguous.Length);
        Assert.False(r.Add(0, 5, Bytes("hello"), index: 11, time: 2m));        // old sequence space: not new
        Assert.Equal("helloworld", System.Text.Encoding.ASCII.GetString(r.Contiguous));
        Assert.Equal((11, 2m), r.DeliveryOf(9));
    }

    [Fact]
    public void Keep_alive_bytes_before_the_stream_start_and_empty_segments_change_nothing()
    {
        var r = new StreamReassembler(1024);
        Assert.False(r.Add(-1, 1, Bytes("x"), 1, 1m));
        Assert.False(r.Add(0, 0, [], 2, 2m));
        Assert.True(r.Add(-1, 3, Bytes("xab"), 3, 3m));
        Assert.Equal("ab", System.Text.Encoding.ASCII.GetString(r.Contiguous));
    }

    [Fact]
    public void A_short_capture_leaves_a_gap_but_counts_the_declared_length()
    {
        var r = new StreamReassembler(1024);
        Assert.True(r.Add(0, 10, Bytes("abc"), 1, 1m));                       // snap length cut 7 octets
        Assert.True(r.Add(10, 2, Bytes("yz"), 2, 2m));
        Assert.Equal(12, r.HighestEnd);
        Assert.Equal("abc", System.Text.Encoding.ASCII.GetString(r.Contiguous));
    }

    [Fact]
    public void Memory_is_bounded_by_bytes_and_by_held_segments()
    {
        var bytes = new StreamReassembler(100);
        bytes.Add(0, 80, new byte[80], 1, 1m);
        bytes.Add(80, 80, new byte[80], 2, 2m);
        Assert.True(bytes.Overflowed);
        Assert.Equal(80, bytes.Contiguous.Length);
        Assert.Equal(160, bytes.HighestEnd);

        var held = new StreamReassembler(1 << 20);
        for (var i = 0; i < StreamReassembler.MaxHeldSegments + 10; i++)
            held.Add(2 + 2L * i, 1, [1], i, i);                                 // every other octet: never contiguous
        Assert.True(held.Overflowed);
        Assert.Equal(0, held.Contiguous.Length);
    }

    /// <summary>Any split of a stream into segments, duplicated and shuffled, reassembles to the stream.</summary>
    [Property(MaxTest = 200)]
    public bool Shuffled_duplicated_segments_reassemble_to_the_original(byte[] data, int seed)
    {
        data ??= [];
        var random = new Random(seed);
        var segments = new List<(int Offset, byte[] Data)>();
        for (var offset = 0; offset < data.Length;)
        {
            var length = Math.Min(data.Length - offset, random.Next(1, 8));
            segments.Add((offset, data[offset..(offset + length)]));
            if (random.Next(4) == 0) segments.Add((offset, data[offset..(offset + length)]));
            offset += length;
        }
        var shuffled = segments.OrderBy(_ => random.Next()).ToList();
        var r = new StreamReassembler(1 << 20);
        for (var i = 0; i < shuffled.Count; i++) r.Add(shuffled[i].Offset, shuffled[i].Data.Length, shuffled[i].Data, i, i);
        return r.Contiguous.SequenceEqual(data) && r.HighestEnd == data.Length && !r.Overflowed;
    }
}
