using LatencySmtp.Tcp;

namespace LatencySmtp.Tests.Tcp;

/// <summary>Options a hostile SYN may carry must not turn one segment into unbounded work.</summary>
public sealed class HostileOptionTests
{
    [Theory]
    [InlineData((ushort)0)]
    [InlineData((ushort)1)]
    [InlineData((ushort)40)]
    public void A_tiny_announced_MSS_is_clamped_and_the_response_goes_out_in_bounded_segments(ushort mss)
    {
        var host = new TtcpHost(new TtcpOptions(), InMemoryLink.ServerAddress, () => 7000);
        var listener = new TtcpListener(host, InMemoryLink.ServerPort);
        var syn = new TcpSegment(40000, InMemoryLink.ServerPort, 1000, 0, TcpFlags.Syn | TcpFlags.Fin, 65535,
            new TcpOptions { Mss = mss, CCNew = 5 }, "XID a b\r\n"u8.ToArray());
        var now = TimeSpan.FromSeconds(1);
        var tcb = listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, syn, now);
        Assert.NotNull(tcb);
        Assert.True(tcb!.SendMss >= Tcb.MinMss, $"send MSS {tcb.SendMss}");

        // Complete the handshake (first contact: CC.NEW), then a 4 KB response must leave in a bounded number
        // of segments, each carrying payload.
        var synAck = Drain(tcb).Single(s => s.Has(TcpFlags.Syn));
        tcb.OnSegment(new TcpSegment(40000, InMemoryLink.ServerPort, 1000 + (uint)syn.SequenceLength, synAck.Seq + 1, TcpFlags.Ack, 65535,
            ClientCC, ReadOnlyMemory<byte>.Empty), now + TimeSpan.FromMilliseconds(10));
        tcb.Send(new byte[4096]);
        tcb.Close();
        var sent = new List<TcpSegment>();
        for (var step = 0; step < 200 && !tcb.IsTerminated; step++)
        {
            var batch = Drain(tcb);
            sent.AddRange(batch);
            if (batch.Count == 0)
                throw new Xunit.Sdk.XunitException($"stalled at step {step}: {tcb.State}, next deadline {tcb.NextDeadline}, sent {string.Join(" | ", sent)}");
            var last = batch[^1];
            tcb.OnSegment(new TcpSegment(40000, InMemoryLink.ServerPort, 1000 + (uint)syn.SequenceLength, last.Seq + (uint)last.SequenceLength,
                TcpFlags.Ack, 65535, ClientCC, ReadOnlyMemory<byte>.Empty), now + TimeSpan.FromMilliseconds(20 + step));
        }
        var data = sent.Where(s => s.Payload.Length > 0).ToList();
        Assert.Equal(4096, data.Sum(s => s.Payload.Length));
        Assert.InRange(data.Count, 1, 4096 / (Tcb.MinMss - 40) + 1);
        Assert.Equal((ushort)tcb.SendMss, host.Tao.Get(InMemoryLink.ClientAddress).Mss);
    }

    // RFC 1644 §3.2: once a connection uses CC, every segment carries it; one without is dropped.
    private static readonly TcpOptions ClientCC = new() { CC = 5 };

    private static List<TcpSegment> Drain(Tcb tcb)
    {
        var list = new List<TcpSegment>();
        while (list.Count < 1000 && tcb.TryDequeueOutgoing(out var s)) list.Add(s);
        return list;
    }
}
