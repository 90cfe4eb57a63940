using System.Text;
using LatencySmtp.Tcp;
using Xunit.Abstractions;

using static LatencySmtp.Tests.Tcp.TcpTestData;

namespace LatencySmtp.Tests.Tcp;

/// <summary>Requirements that had no test of their own: CC.ECHO on the SYN-ACK, every single loss, the listener's tombstones.</summary>
public class TtcpRequirementTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(20);
    private static readonly byte[] Request = Encoding.ASCII.GetBytes("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 5 LAST\r\nhello");

    // ---------------------------------------------------------------- CC.ECHO

    /// <summary>
    /// RFC 1644 §4.2 (SYN-SENT): a SYN-ACK must carry CC.ECHO equal to the CC we sent (and its own CC), else it answers
    /// some other SYN (an old duplicate, or a forgery): drop it, take nothing from it, and keep waiting for the real one.
    /// </summary>
    [Theory]
    [InlineData(false, "wrong echo")]
    [InlineData(true, "wrong echo")]
    [InlineData(true, "echo without CC")]
    public void A_SYN_ACK_whose_CC_ECHO_is_not_our_CC_is_dropped(bool taoPrimed, string kind)
    {
        var link = taoPrimed ? new InMemoryLink().Prime() : new InMemoryLink(options: new TtcpOptions { UseCookie = true });
        var cacheBefore = link.ClientHost.Tao.Get(InMemoryLink.ServerAddress);
        var c = link.Connect(Request);
        var forged = new TcpSegment(InMemoryLink.ServerPort, c.Local.Port, 7_000_000,
            c.InitialSendSequence + 1 + (uint)Request.Length + 1, TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Fin | TcpFlags.Psh, 65535,
            kind == "wrong echo"
                ? new TcpOptions { Mss = 1460, CC = 99, CCEcho = c.SendCC + 1, FastOpenCookie = new byte[8] }
                : new TcpOptions { Mss = 536, CCEcho = c.SendCC, FastOpenCookie = new byte[8] },
            "250 forged\r\n"u8.ToArray());
        long dropped = c.Counters.Dropped;
        c.OnSegment(forged, link.Now);

        Assert.Equal(dropped + 1, c.Counters.Dropped);
        Assert.Equal(TcpState.SynSent, c.State);
        Assert.Equal(0, c.Available);
        Assert.Null(c.ReceiveCC);
        Assert.Null(c.InitialReceiveSequence);
        var cacheAfter = link.ClientHost.Tao.Get(InMemoryLink.ServerAddress);
        Assert.Equal(cacheBefore.CCSent is null ? null : c.SendCC, cacheAfter.CCSent);   // no CC.ECHO taken as proof
        Assert.Equal(cacheBefore.Mss, cacheAfter.Mss);
        Assert.Equal(cacheBefore.Cookie, cacheAfter.Cookie);

        // Nothing acknowledges the forgery; the real server's answer completes the transaction.
        Assert.True(link.Run(() => c.IsTerminated, link.Now + Limit));
        Assert.DoesNotContain(link.Sent, p => p.Direction == InMemoryLink.Direction.ToServer && p.Segment.Has(TcpFlags.Ack)
                                               && p.Segment.Ack == forged.Seq + 1);
        Assert.Null(c.Error);
        Assert.Equal([.. "250 "u8, .. Request], ReadAll(c));
        Assert.Single(link.Deliveries);
    }

    // ---------------------------------------------------------------- every single loss

    public static TheoryData<string> Scenarios => ["first contact", "TAO pass", "4 segments, separate FIN", "beyond the initial window"];

    /// <summary>
    /// Deterministic counterpart of the random-link test: for each segment of a loss-free transaction, the same
    /// transaction with exactly that segment lost. Delivered exactly once, the client holds its 250, and nothing is
    /// delivered a second time while the retransmissions and TIME-WAIT run out.
    /// </summary>
    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Losing_any_one_segment_still_delivers_exactly_once_and_the_client_gets_its_250(string scenario)
    {
        int segments = RunWithLoss(scenario, lose: -1);
        output.WriteLine($"{scenario}: {segments} segments without loss");
        Assert.True(segments >= 3);
        for (int i = 0; i < segments; i++)
            RunWithLoss(scenario, lose: i);
    }

    /// <summary>Runs the scenario losing its segment number <paramref name="lose"/> (-1: none); returns how many segments went out.</summary>
    private int RunWithLoss(string scenario, int lose)
    {
        var link = scenario == "first contact" ? new InMemoryLink() : new InMemoryLink().Prime();
        var request = scenario switch
        {
            "4 segments, separate FIN" => Payload(1448 + 3 * 1452, 4),   // fills the initial window of 4 segments exactly
            "beyond the initial window" => Payload(20_000, 5),
            _ => Request,
        };
        int index = 0;
        TcpSegment? lost = null;
        link.DropFilter = p =>
        {
            if (index++ != lose) return false;
            lost = p.Segment;
            return true;
        };
        var start = link.Now;
        var c = link.Connect(request, closeAfterRequest: scenario != "4 segments, separate FIN");
        if (scenario == "4 segments, separate FIN")
        {
            c.Close();
            link.Pump();
            var flight = link.Sent.Where(p => p.SentAt == start).Select(p => p.Segment).ToList();
            Assert.Equal(5, flight.Count);
            Assert.Equal(TcpFlags.Fin, flight[4].Flags & ~TcpFlags.Ack);
            Assert.Equal(0, flight[4].Payload.Length);
        }
        string context = $"{scenario}, segment {lose} lost ({lost})";
        Assert.True(link.Run(() => c.IsTerminated, link.Now + Limit), context);
        link.RunUntilQuiet(link.Now + Limit);
        if (lose >= 0 && c.Error is not null) output.WriteLine(InMemoryLink.Describe(link.Sent));
        Assert.True(c.Error is null, $"{context}: {c.Error}");
        Assert.True(lose < 0 || lost is not null, context);
        Assert.Equal([.. "250 "u8, .. request], ReadAll(c));
        Assert.True(link.Deliveries.Count == 1, $"{context}: delivered {link.Deliveries.Count} times");
        Assert.Equal(request, link.Deliveries[0]);
        Assert.Empty(link.Listener.Connections);
        if (lose < 0) Assert.Equal(0, c.Counters.Retransmissions + link.Accepted.Sum(t => t.Counters.Retransmissions));
        return index;
    }

    // ---------------------------------------------------------------- tombstones

    /// <summary>
    /// TtcpListener remarks: a closed connection leaves a tombstone, and a retransmitted SYN of it (same source,
    /// same ISN) gets a RST instead of a new SYN-RECEIVED incarnation, which would hold its data a second time.
    /// A new ISN is a new connection; after the tombstone's lifetime the SYN is handled as any other.
    /// </summary>
    [Fact]
    public void A_SYN_of_a_recently_closed_connection_is_answered_with_RST_until_its_tombstone_expires()
    {
        var link = new InMemoryLink().Prime();
        var c = link.Connect(Request);
        Assert.True(link.Run(() => c.IsTerminated, link.Now + Limit));
        Assert.Null(c.Error);
        Assert.Empty(link.Listener.Connections);                       // LAST-ACK -> CLOSED on the final ACK
        var syn = link.Sent.First(p => p.Direction == InMemoryLink.Direction.ToServer && p.Segment.Has(TcpFlags.Syn)).Segment;
        Assert.Single(link.Deliveries);

        // Within the lifetime (2 MSL + the client's retransmission span): RST, no Tcb, no SYN-ACK.
        long strays = link.Listener.Strays;
        Assert.Null(link.Listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, syn, link.Now));
        Assert.Equal(strays + 1, link.Listener.Strays);
        Assert.True(link.Listener.TryDequeueOutgoing(out var dest, out var rst));
        Assert.Equal(InMemoryLink.ClientAddress, dest);
        Assert.Equal(TcpFlags.Rst | TcpFlags.Ack, rst.Flags);
        Assert.Equal(syn.Seq + (uint)syn.SequenceLength, rst.Ack);
        Assert.Equal(syn.SourcePort, rst.DestinationPort);
        Assert.False(link.Listener.TryDequeueOutgoing(out _, out _));
        Assert.Empty(link.Listener.Connections);

        // Still within it two minutes later.
        link.RunUntilQuiet(link.Now + TimeSpan.FromMinutes(2));
        Assert.Null(link.Listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, syn, link.Now));
        Assert.True(link.Listener.TryDequeueOutgoing(out _, out var rst2));
        Assert.True(rst2.Has(TcpFlags.Rst));

        // The same port with another ISN and a higher CC: a new incarnation, not a replay.
        var fresh = syn with { Seq = syn.Seq + 3_000_000, Options = syn.Options with { CC = syn.Options.CC + 1 } };
        var next = link.Listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, fresh, link.Now);
        Assert.NotNull(next);
        Assert.True(next!.TaoPassed);
        link.RunUntilQuiet(link.Now + TimeSpan.FromMinutes(1));   // the SYN-ACK meets the closed client port: RST
        Assert.Equal(2, link.Deliveries.Count);

        // Its tombstone replaced the old one: now its own retransmission is refused.
        Assert.Null(link.Listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, fresh, link.Now));
        Assert.True(link.Listener.TryDequeueOutgoing(out _, out var rst3));
        Assert.True(rst3.Has(TcpFlags.Rst));

        // After the lifetime (2 MSL + 123 s with the defaults) it is an ordinary SYN: it fails the TAO test, is
        // held, and its SYN-ACK draws the client's RST. Nothing more is delivered.
        link.RunUntilQuiet(link.Now + TimeSpan.FromMinutes(4));
        var late = link.Listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, fresh, link.Now);
        Assert.NotNull(late);
        Assert.False(late!.TaoPassed);
        Assert.Equal(TcpState.SynReceived, late.State);
        link.RunUntilQuiet(link.Now + TimeSpan.FromMinutes(1));
        Assert.Equal("connection reset", late.Error);
        Assert.Equal(2, link.Deliveries.Count);
    }
}
