using System.Text;
using LatencySmtp.Tcp;
using Xunit.Abstractions;

using static LatencySmtp.Tests.Tcp.TcpTestData;

namespace LatencySmtp.Tests.Tcp;

public class TtcpTransactionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Rtt = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);
    private static readonly byte[] Request = Encoding.ASCII.GetBytes("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 5 LAST\r\nhello");

    private static byte[] Expected => [.. "250 "u8, .. Request];

    /// <summary>One complete transaction; returns the client Tcb after it terminated.</summary>
    private Tcb Transact(InMemoryLink link, byte[]? request = null)
    {
        var client = link.Connect(request ?? Request);
        Assert.True(link.Run(() => client.IsTerminated, link.Now + Limit), "client did not terminate");
        output.WriteLine(InMemoryLink.Describe(link.Sent));
        output.WriteLine("");
        return client;
    }

    [Fact]
    public void First_contact_takes_two_round_trips_then_TAO_takes_one()
    {
        var link = new InMemoryLink();

        var first = link.Connect(Request);
        Assert.True(first.Star);                              // SYN-SENT*: FIN queued behind the SYN
        Assert.True(link.Run(() => first.IsTerminated, Limit));
        output.WriteLine(InMemoryLink.Describe(link.Sent));
        var syn = link.Sent[0];
        Assert.Equal(TcpFlags.Syn | TcpFlags.Fin, syn.Segment.Flags & ~TcpFlags.Psh);
        Assert.Equal(Request, syn.Segment.Payload.ToArray());
        Assert.NotNull(syn.Segment.Options.CCNew);          // RFC 1644 §3.3: first contact
        Assert.Null(syn.Segment.Options.CC);
        Assert.Equal((ushort)1460, syn.Segment.Options.Mss);
        Assert.Null(first.Error);
        Assert.Equal(2 * Rtt, link.ResponseTimes[first]);
        Assert.Equal(Expected, ReadAll(first));
        Assert.Single(link.Deliveries);
        Assert.Equal(0, first.Counters.Retransmissions);
        // The first SYN-ACK acknowledged only the SYN: the data waited for the handshake.
        var synAck = link.Sent[1];
        Assert.Equal(TcpFlags.Syn | TcpFlags.Ack, synAck.Segment.Flags);
        Assert.Equal(syn.Segment.Seq + 1, synAck.Segment.Ack);
        Assert.Equal(syn.Segment.Options.CCNew, synAck.Segment.Options.CCEcho);
        Assert.Equal(syn.Segment.Options.CCNew, link.ServerHost.Tao.Get(InMemoryLink.ClientAddress).CC);

        link.Sent.Clear();
        var start = link.Now;
        var second = link.Connect(Request);
        Assert.True(link.Run(() => second.IsTerminated, link.Now + Limit));
        output.WriteLine(InMemoryLink.Describe(link.Sent));
        Assert.Null(second.Error);
        Assert.Equal(Rtt, link.ResponseTimes[second] - start);
        Assert.Equal(Expected, ReadAll(second));
        Assert.Equal(2, link.Deliveries.Count);

        // Exactly three segments: SYN+data+FIN, SYN-ACK+response+FIN, ACK.
        var wire = link.Sent.Select(p => p.Segment).ToList();
        Assert.Equal(3, wire.Count);
        var (s1, s2, s3) = (wire[0], wire[1], wire[2]);
        Assert.Equal(TcpFlags.Syn | TcpFlags.Fin, s1.Flags & ~TcpFlags.Psh);
        Assert.Equal(second.SendCC, s1.Options.CC);
        Assert.True(second.SendCC > first.SendCC);
        Assert.Equal(TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Fin, s2.Flags & ~TcpFlags.Psh);
        Assert.Equal(s1.Seq + 1 + (uint)Request.Length + 1, s2.Ack);
        Assert.Equal(s1.Options.CC, s2.Options.CCEcho);
        Assert.NotNull(s2.Options.CC);
        Assert.Equal(Expected, s2.Payload.ToArray());
        Assert.Equal(TcpFlags.Ack, s3.Flags);
        Assert.Equal(s2.Seq + 1 + (uint)Expected.Length + 1, s3.Ack);
        Assert.Equal(s2.Options.CC, s3.Options.CC);
        Assert.Empty(link.Listener.Connections);
        // RFC 1644 §3.4: truncated TIME-WAIT, 8 RTO (RTO stays at its 1 s floor) after the response.
        Assert.Equal(TimeSpan.FromSeconds(8), link.Now - link.ResponseTimes[second]);
    }

    [Fact]
    public void Server_passes_TAO_only_for_a_larger_CC()
    {
        var link = new InMemoryLink();
        Transact(link);
        var server = link.ServerHost.Tao.Get(InMemoryLink.ClientAddress);
        Assert.NotNull(server.CC);
        var client = link.ClientHost.Tao.Get(InMemoryLink.ServerAddress);
        Assert.NotNull(client.CCSent);
        Assert.Equal((ushort)1460, client.Mss);

        // A forged cache entry above the client's next CC makes the TAO test fail: 2 RTT again.
        link.ServerHost.Tao.Set(InMemoryLink.ClientAddress, server with { CC = 1000 });
        var start = link.Now;
        var c = link.Connect(Request);
        Assert.True(link.Run(() => c.IsTerminated, link.Now + Limit));
        Assert.Equal(2 * Rtt, link.ResponseTimes[c] - start);
        Assert.Equal(2, link.Deliveries.Count);
    }

    [Fact]
    public void Without_CC_it_is_plain_TCP_with_data_on_the_SYN()
    {
        var link = new InMemoryLink(options: new TtcpOptions { UseCC = false });
        var a = Transact(link);
        var start = link.Now;
        var b = Transact(link);
        Assert.Equal(2 * Rtt, link.ResponseTimes[b] - start);
        Assert.All(link.Sent, p => Assert.Null(p.Segment.Options.CC ?? p.Segment.Options.CCNew ?? p.Segment.Options.CCEcho));
        Assert.Equal(2, link.Deliveries.Count);
        Assert.Equal(Expected, ReadAll(a));
    }

    [Fact]
    public void Server_that_ignores_CC_makes_the_client_drop_it()
    {
        var link = new InMemoryLink(options: new TtcpOptions(), serverOptions: new TtcpOptions { UseCC = false });
        var c = Transact(link);
        Assert.Null(c.Error);
        Assert.False(c.UsesCC);
        Assert.Equal(2 * Rtt, link.ResponseTimes[c]);
        // After the SYN-ACK without CC.ECHO the client sends no more CC options.
        var last = link.Sent.Last(p => p.Direction == InMemoryLink.Direction.ToServer);
        Assert.Null(last.Segment.Options.CC);
    }

    [Fact]
    public void Lost_client_SYN_is_delivered_after_one_RTO()
    {
        var link = new InMemoryLink();
        Transact(link); // prime TAO
        link.Sent.Clear();
        int firstIndex = -1;
        link.DropFilter = p => { if (firstIndex < 0) firstIndex = p.Index; return p.Index == firstIndex; };
        var start = link.Now;
        var c = Transact(link);
        Assert.Null(c.Error);
        Assert.Equal(TimeSpan.FromSeconds(1) + Rtt, link.ResponseTimes[c] - start);
        Assert.Equal(1, c.Counters.Retransmissions);
        Assert.Equal(2, link.Deliveries.Count);
        Assert.Equal(Expected, ReadAll(c));
    }

    [Fact]
    public void Lost_server_SYN_ACK_with_response_is_recovered_and_delivered_once()
    {
        var link = new InMemoryLink();
        Transact(link);
        link.Sent.Clear();
        bool dropped = false;
        link.DropFilter = p =>
        {
            if (dropped || p.Direction != InMemoryLink.Direction.ToClient) return false;
            return dropped = true;
        };
        var start = link.Now;
        var c = Transact(link);
        Assert.True(dropped);
        Assert.Null(c.Error);
        Assert.Equal(Expected, ReadAll(c));
        Assert.Equal(2, link.Deliveries.Count);
        // Client retransmits its SYN at 1 s, the server answers it (or its own timer fires at 1.05 s): 1.1 s.
        Assert.Equal(TimeSpan.FromSeconds(1) + Rtt, link.ResponseTimes[c] - start);
        Assert.Empty(link.Listener.Connections);
    }

    [Fact]
    public void Lost_first_contact_SYN_ACK_is_recovered()
    {
        var link = new InMemoryLink();
        bool dropped = false;
        link.DropFilter = p => p.Direction == InMemoryLink.Direction.ToClient && !dropped && (dropped = true);
        var c = Transact(link);
        Assert.Null(c.Error);
        Assert.Equal(Expected, ReadAll(c));
        Assert.Single(link.Deliveries);
    }

    [Fact]
    public void Duplicated_SYN_delivers_once()
    {
        foreach (var late in new[] { TimeSpan.Zero, TimeSpan.FromMilliseconds(120), TimeSpan.FromSeconds(2) })
        {
            var link = new InMemoryLink();
            Transact(link);
            var start = link.Now;
            var c = link.Connect(Request);
            link.Pump();
            var syn = link.Sent[^1];
            Assert.True(syn.Segment.Has(TcpFlags.Syn));
            // Run the transaction, injecting a copy of the SYN `late` after the original.
            bool injected = false;
            Assert.True(link.Run(() =>
            {
                if (!injected && link.Now >= start + late)
                {
                    injected = true;
                    link.Listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, syn.Segment, link.Now);
                }
                return injected && c.IsTerminated && link.Listener.Connections.All(t => t.IsTerminated);
            }, link.Now + Limit), $"late {late}");
            link.RunUntilQuiet(link.Now + Limit);
            Assert.True(injected);
            Assert.Null(c.Error);
            Assert.Equal(2, link.Deliveries.Count);
            Assert.Equal(Expected, ReadAll(c));
        }
    }

    [Fact]
    public void Duplicated_first_contact_SYN_delivers_once()
    {
        var link = new InMemoryLink { Duplication = 1.0 };
        var c = Transact(link);
        link.RunUntilQuiet(link.Now + Limit);
        Assert.Null(c.Error);
        Assert.Single(link.Deliveries);
        Assert.Equal(Expected, ReadAll(c));
    }

    [Fact]
    public void Slow_application_gets_the_SYN_ACK_sent_alone_after_the_hold_time()
    {
        var link = new InMemoryLink();
        Transact(link);
        link.Sent.Clear();
        var start = link.Now;
        var respondAt = start + TimeSpan.FromMilliseconds(50) + TimeSpan.FromMilliseconds(500);
        link.ServerApplication = false;
        // Manual application: accept, wait 500 ms, then answer.
        var c = link.Connect(Request);
        Tcb? server = null;
        Assert.True(link.Run(() => (server ??= link.Listener.TryAcceptNew()) is not null, link.Now + Limit));
        Assert.True(server!.TaoPassed);
        Assert.True(server.PeerFinReceived);
        Assert.Equal(TcpState.CloseWait, server.State);
        Assert.True(server.Star);
        Assert.True(link.Run(() => link.Now >= respondAt, respondAt));
        // The SYN-ACK left alone at hold expiry, 200 ms after the SYN arrived.
        var synAck = link.Sent.Single(p => p.Direction == InMemoryLink.Direction.ToClient);
        Assert.Equal(start + TimeSpan.FromMilliseconds(250), synAck.SentAt);
        Assert.Equal(TcpFlags.Syn | TcpFlags.Ack, synAck.Segment.Flags);
        Assert.Equal(synAck.Segment.Ack, link.Sent[0].Segment.Seq + (uint)Request.Length + 2);
        var req = ReadAll(server);
        Assert.Equal(Request, req);
        server.Send(Expected);
        server.Close();
        Assert.True(link.Run(() => c.IsTerminated, link.Now + Limit));
        Assert.Null(c.Error);
        Assert.Equal(Expected, ReadAll(c));
        Assert.Equal(respondAt + TimeSpan.FromMilliseconds(50), link.ResponseTimes[c]);
        Assert.Equal(0, c.Counters.Retransmissions + server.Counters.Retransmissions);
    }

    [Fact]
    public void Unreachable_server_ends_in_retransmission_limit()
    {
        var link = new InMemoryLink { Loss = 1.0 };
        var c = link.Connect(Request);
        Assert.True(link.Run(() => c.IsTerminated, Limit));
        Assert.Equal("retransmission limit reached", c.Error);
        Assert.Equal(6, c.Counters.Retransmissions);
        // RFC 6298 backoff: 1+2+4+8+16+32 s, then 60 s, the upper bound (§2.5).
        Assert.Equal(TimeSpan.FromSeconds(123), link.Now);
        var times = link.Sent.Select(p => p.SentAt.TotalSeconds).ToArray();
        Assert.Equal(new double[] { 0, 1, 3, 7, 15, 31, 63 }, times);
    }

    [Fact]
    public void Reset_in_window_terminates_with_error()
    {
        var link = new InMemoryLink();
        Transact(link);
        var c = link.Connect(Request, closeAfterRequest: false);
        link.ServerApplication = false;
        Assert.True(link.Run(() => c.State == TcpState.Established, link.Now + Limit));
        var server = link.Listener.Connections.Single();
        var rst = new TcpSegment(InMemoryLink.ServerPort, c.Local.Port, server.InitialSendSequence + 1, 0, TcpFlags.Rst, 0, TcpOptions.None, default);
        var outOfWindow = rst with { Seq = rst.Seq + 1_000_000 };
        c.OnSegment(outOfWindow, link.Now);
        Assert.False(c.IsTerminated);
        c.OnSegment(rst, link.Now);
        Assert.True(c.IsTerminated);
        Assert.Equal("connection reset", c.Error);
    }

    [Fact]
    public void Stray_ACK_gets_a_reset_from_the_listener()
    {
        var host = new TtcpHost(new TtcpOptions(), InMemoryLink.ServerAddress, () => 1);
        var listener = new TtcpListener(host, 25);
        var ack = new TcpSegment(40000, 25, 100, 777, TcpFlags.Ack, 1000, TcpOptions.None, default);
        Assert.Null(listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, ack, TimeSpan.Zero));
        Assert.True(listener.TryDequeueOutgoing(out var dest, out var rst));
        Assert.Equal(InMemoryLink.ClientAddress, dest);
        Assert.Equal(TcpFlags.Rst, rst.Flags);
        Assert.Equal(777u, rst.Seq);
        Assert.Equal((ushort)40000, rst.DestinationPort);
        var reset = rst with { SourcePort = 40000, DestinationPort = 25 };
        Assert.Null(listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, reset, TimeSpan.Zero));
        Assert.False(listener.TryDequeueOutgoing(out _, out _)); // never a RST for a RST
    }

    [Fact]
    public void Segment_with_wrong_CC_is_dropped()
    {
        var link = new InMemoryLink();
        Transact(link);
        var c = link.Connect(Request, closeAfterRequest: false);
        link.ServerApplication = false;
        Assert.True(link.Run(() => c.State == TcpState.Established, link.Now + Limit));
        var server = link.Listener.Connections.Single();
        var data = new TcpSegment(InMemoryLink.ServerPort, c.Local.Port, server.InitialSendSequence + 1, c.InitialSendSequence + 1 + (uint)Request.Length,
            TcpFlags.Ack | TcpFlags.Psh, 1000, new TcpOptions { CC = server.SendCC + 1 }, "x"u8.ToArray());
        long dropped = c.Counters.Dropped;
        c.OnSegment(data, link.Now);
        Assert.Equal(0, c.Available);
        Assert.Equal(dropped + 1, c.Counters.Dropped);
        c.OnSegment(data with { Options = new TcpOptions { CC = server.SendCC } }, link.Now);
        Assert.Equal(1, c.Available);
    }

    [Fact]
    public void CC_generator_never_yields_zero()
    {
        var host = new TtcpHost(new TtcpOptions(), 1);
        host.SeedCC(uint.MaxValue - 1);
        Assert.Equal(uint.MaxValue, host.NextCC());
        Assert.Equal(1u, host.NextCC());
        Assert.Equal(2u, host.NextCC());
    }

    [Fact]
    public void TAO_cache_is_bounded_LRU()
    {
        var cache = new TaoCache(capacity: 2);
        cache.Set(1, new TaoEntry(1, null, null));
        cache.Set(2, new TaoEntry(2, null, null));
        Assert.Equal(1u, cache.Get(1).CC); // 1 is now most recent
        cache.Set(3, new TaoEntry(3, null, null));
        Assert.Equal(2, cache.Count);
        Assert.Null(cache.Get(2).CC);
        Assert.Equal(1u, cache.Get(1).CC);
        Assert.Equal(3u, cache.Get(3).CC);
    }
}
