using System.Text;
using LatencySmtp.Smtp;
using LatencySmtp.Tcp;
using LatencySmtp.Transport.Delivery;
using Xunit.Abstractions;

using static LatencySmtp.Tests.Tcp.TcpTestData;

namespace LatencySmtp.Tests.Tcp;

/// <summary>Adversarial review: each test states the behaviour the RFCs require.</summary>
public sealed class AdversarialTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Rtt = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan MaxProbeInterval = TimeSpan.FromSeconds(60);
    private readonly string _root = Directory.CreateTempSubdirectory("lsm-adv-").FullName;

    public void Dispose() => Directory.Delete(_root, true);

    private (Tcb Client, TimeSpan Response) Transact(InMemoryLink link, byte[] request)
    {
        var start = link.Now;
        var c = link.Connect(request);
        Assert.True(link.Run(() => c.IsTerminated, link.Now + Limit), "client did not terminate");
        Assert.True(c.Error is null, c.Error + "\n" + InMemoryLink.Describe(link.Sent.TakeLast(20)));
        return (c, link.ResponseTimes[c] - start);
    }

    // ---------------------------------------------------------------- persist / zero window

    /// <summary>RFC 1122 §4.2.2.17: a sender probing a zero window MUST keep the connection open as long as the
    /// receiver keeps answering the probes (RFC 9293 §3.8.6.1 the same); the probes back off to at most 60 s.</summary>
    [Fact]
    public void Zero_window_probes_that_are_answered_never_abort_the_connection()
    {
        // MaxRto above 60 s: the probe interval has its own bound.
        var link = new InMemoryLink(options: new TtcpOptions { MaxRto = TimeSpan.FromSeconds(120) }).Prime();
        link.ServerApplication = false;                   // the server application accepts but does not read (yet)
        var c = link.Connect("x"u8.ToArray(), closeAfterRequest: false);
        Tcb? server = null;
        Assert.True(link.Run(() => (server ??= link.Listener.TryAcceptNew()) is not null && c.State == TcpState.Established, link.Now + Limit));
        c.Send(new byte[200_000]);
        link.Run(() => c.IsTerminated, link.Now + TimeSpan.FromMinutes(15));
        output.WriteLine(InMemoryLink.Describe(link.Sent.TakeLast(12)));
        Assert.Equal(65535, server!.Available);            // the server's window is closed, it ACKs every probe
        Assert.False(c.IsTerminated, $"client aborted: {c.Error}");
        var probes = link.Sent.Where(p => p.Direction == InMemoryLink.Direction.ToServer && p.Segment.Payload.Length == 1).ToList();
        Assert.True(probes.Count > 2 * new TtcpOptions().MaxRetransmissions, $"{probes.Count} probes");
        Assert.All(probes.Zip(probes.Skip(1)), p => Assert.True(p.Second.SentAt - p.First.SentAt <= MaxProbeInterval,
            $"probe interval {p.Second.SentAt - p.First.SentAt}"));
        Assert.Equal(MaxProbeInterval, probes[^1].SentAt - probes[^2].SentAt);

        // The application reads: the window opens and the rest flows.
        var total = 0;
        var buffer = new byte[70_000];
        Assert.True(link.Run(() =>
        {
            total += server.Read(buffer);
            return total == 200_001;
        }, link.Now + Limit), $"read {total}");
        Assert.False(c.IsTerminated, c.Error);
    }

    /// <summary>The other half of RFC 1122 §4.2.2.17: a receiver that vanishes (probes unanswered) is given up.</summary>
    [Fact]
    public void Zero_window_probes_that_go_unanswered_end_in_the_retransmission_limit()
    {
        var link = new InMemoryLink().Prime();
        link.ServerApplication = false;
        var c = link.Connect("x"u8.ToArray(), closeAfterRequest: false);
        Tcb? server = null;
        Assert.True(link.Run(() => (server ??= link.Listener.TryAcceptNew()) is not null && c.State == TcpState.Established, link.Now + Limit));
        c.Send(new byte[200_000]);
        Assert.True(link.Run(() => link.Sent.Any(p => p.Direction == InMemoryLink.Direction.ToClient && p.Segment.Window == 0), link.Now + Limit));
        link.Loss = 1.0;                                   // the receiver is gone
        Assert.True(link.Run(() => c.IsTerminated, link.Now + TimeSpan.FromMinutes(15)));
        Assert.Equal("retransmission limit reached", c.Error);
    }

    // ---------------------------------------------------------------- sequence wrap

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Sequence_numbers_wrapping_through_zero_with_a_100KB_reordered_request(bool taoPasses)
    {
        // Both ISSs a few KB below 2^32: every sequence comparison crosses the wrap.
        var link = new InMemoryLink(seed: 5, clientIssBase: 0xFFFF_F000u - 100_000u * (taoPasses ? 1u : 0u) - 100_000u,
            serverIssBase: 0xFFFF_FFF0u - 100_000u * (taoPasses ? 1u : 0u) - 100_000u);
        if (taoPasses) link.Prime();
        link.Reply = _ => "250 ok\r\n"u8.ToArray();
        link.Reordering = 0.5;
        link.ReorderDelay = TimeSpan.FromMilliseconds(40);
        var request = Payload(100_000, 3);
        var c = link.Connect(request);
        output.WriteLine($"client ISS {c.InitialSendSequence:X8}");
        Assert.True(link.Run(() => c.IsTerminated, link.Now + Limit));
        Assert.True(c.Error is null, c.Error);
        Assert.Equal(request, Assert.Single(link.Deliveries));
        Assert.Equal("250 ok\r\n"u8.ToArray(), ReadAll(c));
    }

    // ---------------------------------------------------------------- fuzz the state machine with valid segments

    [Fact]
    public void Random_well_formed_segments_into_every_state_never_throw_and_never_deliver_twice()
    {
        var rng = new Random(793);
        for (int round = 0; round < 300; round++)
        {
            var link = new InMemoryLink(seed: round) { Loss = 0.1, Duplication = 0.1, Reordering = 0.2 };
            var requests = new List<byte[]>();
            for (int i = 0; i < 3; i++)
            {
                var request = Encoding.ASCII.GetBytes($"round {round} request {i} ").Concat(Payload(rng.Next(0, 5000), round * 7 + i)).ToArray();
                requests.Add(request);
                var c = link.Connect(request);
                var server = (Tcb?)null;
                // Between steps, inject hostile but well-formed segments at client and server.
                int injected = 0;
                link.Run(() =>
                {
                    server ??= link.Accepted.LastOrDefault();
                    if (injected++ < 40)
                    {
                        var flags = (TcpFlags)rng.Next(256) & ~TcpFlags.Urg;
                        uint near(uint b) => b + (uint)rng.Next(-70_000, 70_000);
                        var opts = new TcpOptions
                        {
                            Mss = rng.Next(3) == 0 ? (ushort)rng.Next(65536) : null,
                            CC = rng.Next(3) == 0 ? (uint)rng.NextInt64(1L << 32) : null,
                            CCNew = rng.Next(5) == 0 ? (uint)rng.NextInt64(1L << 32) : null,
                            CCEcho = rng.Next(3) == 0 ? (rng.Next(2) == 0 ? c.SendCC : (uint)rng.Next()) : null,
                            FastOpenCookie = rng.Next(4) == 0 ? Payload(rng.Next(0, 17), rng.Next()) : null,
                        };
                        var data = rng.Next(2) == 0 ? default : (ReadOnlyMemory<byte>)Payload(rng.Next(1, 1500), rng.Next());
                        var toClient = new TcpSegment(InMemoryLink.ServerPort, c.Local.Port,
                            near(server?.InitialSendSequence ?? (uint)rng.Next()), near(c.InitialSendSequence), flags,
                            (ushort)rng.Next(65536), opts, data);
                        if (!c.IsTerminated) c.OnSegment(toClient, link.Now);
                        var toServer = new TcpSegment(c.Local.Port, InMemoryLink.ServerPort, near(c.InitialSendSequence),
                            near(server?.InitialSendSequence ?? (uint)rng.Next()), flags, (ushort)rng.Next(65536), opts, data);
                        link.Listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, toServer, link.Now);
                    }
                    return c.IsTerminated;
                }, link.Now + Limit);
            }
            link.RunUntilQuiet(link.Now + Limit);
            foreach (var r in requests)
                Assert.True(link.Deliveries.Count(d => d.AsSpan().SequenceEqual(r)) <= 1, $"round {round}: delivered twice");
        }
    }

    // ---------------------------------------------------------------- single-segment edge cases

    [Fact]
    public void Listener_edge_segments()
    {
        var host = new TtcpHost(new TtcpOptions(), InMemoryLink.ServerAddress, () => 7000);
        var l = new TtcpListener(host, 25);
        var now = TimeSpan.FromSeconds(1);
        // SYN+RST: dropped, no Tcb, no answer.
        Assert.Null(l.OnSegment(1, 2, new TcpSegment(1000, 25, 5, 0, TcpFlags.Syn | TcpFlags.Rst, 100, TcpOptions.None, "x"u8.ToArray()), now));
        Assert.False(l.TryDequeueOutgoing(out _, out _));
        // Data without SYN and without ACK: dropped.
        Assert.Null(l.OnSegment(1, 2, new TcpSegment(1001, 25, 5, 0, TcpFlags.Psh, 100, TcpOptions.None, "x"u8.ToArray()), now));
        Assert.False(l.TryDequeueOutgoing(out _, out _));
        // SYN+FIN, no data, CC 0 (undefined): plain connection, SYN-ACK, no TAO.
        var t = l.OnSegment(1, 2, new TcpSegment(1002, 25, 5, 0, TcpFlags.Syn | TcpFlags.Fin, 0, new TcpOptions { CC = 0 }, default), now);
        Assert.NotNull(t);
        Assert.False(t!.UsesCC);
        Assert.False(t.TaoPassed);
    }

    [Fact]
    public void ACK_for_unsent_data_is_not_taken()
    {
        var link = new InMemoryLink().Prime();
        link.ServerApplication = false;
        var c = link.Connect("x"u8.ToArray(), closeAfterRequest: false);
        Assert.True(link.Run(() => c.State == TcpState.Established && link.Listener.Connections.Any(), link.Now + Limit));
        var server = link.Listener.Connections.Single();
        var future = new TcpSegment(InMemoryLink.ServerPort, c.Local.Port, server.InitialSendSequence + 1, c.InitialSendSequence + 5000,
            TcpFlags.Ack, 1000, new TcpOptions { CC = server.SendCC }, default);
        long d = c.Counters.Dropped;
        c.OnSegment(future, link.Now);
        Assert.Equal(d + 1, c.Counters.Dropped);
        Assert.Equal(TcpState.Established, c.State);
    }

    // ---------------------------------------------------------------- TIME-WAIT

    /// <summary>RFC 1644 §3.4 lets TIME-WAIT be *truncated* to 8 RTO for a connection shorter than MSL; it must never be
    /// longer than the 2 MSL of RFC 793 §3.5.</summary>
    [Fact]
    public void Truncated_TIME_WAIT_is_never_longer_than_2_MSL()
    {
        var link = new InMemoryLink().Prime();
        var start = link.Now;
        // Lose everything the server sends for 10 s: the client times out at 1, 3 and 7 s, RTO 8 s; done well within MSL.
        link.DropFilter = p => p.Direction == InMemoryLink.Direction.ToClient && p.SentAt < start + TimeSpan.FromSeconds(10);
        var c = link.Connect("x"u8.ToArray());
        Assert.True(link.Run(() => c.State == TcpState.TimeWait, link.Now + Limit));
        var enteredAt = link.Now;
        Assert.True(link.Run(() => c.IsTerminated, link.Now + Limit));
        output.WriteLine($"RTO {c.Rto}, TIME-WAIT lasted {link.Now - enteredAt}");
        Assert.True(link.Now - enteredAt <= 2 * new TtcpOptions().Msl, $"TIME-WAIT {link.Now - enteredAt} > 2 MSL");
    }

    // ---------------------------------------------------------------- TAO cache under ttcp-cookie

    private static readonly byte[] Secret = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private static TtcpOptions CookieTao() =>
        new() { UseCookie = true, CookieSecret = Secret, CookieRequiresTao = true };

    /// <summary>
    /// RFC 1644 §3.3/§4.2: a CC.NEW SYN makes cache.CC undefined, and the completed handshake sets it to SEG.CC, so a
    /// client that lost CCgen (reboot) gets its 1-RTT path back on the next connection. Under ttcp-cookie the server
    /// used to only ever raise cache.CC, even from a *proven* CC.NEW (valid cookie + completed handshake).
    /// </summary>
    [Theory]
    [InlineData("ttcp")]
    [InlineData("cookie")]
    [InlineData("cookie+tao")]
    public void A_client_that_restarted_CCgen_regains_one_RTT_after_its_CC_NEW_connection(string mode)
    {
        var options = mode switch
        {
            "ttcp" => new TtcpOptions(),
            "cookie" => new TtcpOptions { UseCookie = true, CookieSecret = Secret },
            _ => CookieTao(),
        };
        var link = new InMemoryLink(options: options);
        link.ClientHost.SeedCC(5000);                       // a long-lived client: CCgen is high
        Transact(link, "a"u8.ToArray());                    // first contact (and cookie)
        Assert.Equal(Rtt, Transact(link, "b"u8.ToArray()).Response);
        Assert.Equal(5002u, link.ServerHost.Tao.Get(InMemoryLink.ClientAddress).CC);
        // Reboot: CCgen starts again and the TAO entry is lost; the cookie survived (or was re-obtained).
        var cookie = link.ClientHost.Tao.Get(InMemoryLink.ServerAddress).Cookie;
        link.ClientHost.Tao.Clear();
        link.ClientHost.Tao.Set(InMemoryLink.ServerAddress, new TaoEntry(null, null, null, cookie));
        link.ClientHost.SeedCC(0);
        // CC.NEW: handshake first, as RFC 1644 says; a valid cookie alone still admits the data at once.
        Assert.Equal(mode == "cookie" ? Rtt : 2 * Rtt, Transact(link, "c"u8.ToArray()).Response);
        output.WriteLine($"server cache.CC = {link.ServerHost.Tao.Get(InMemoryLink.ClientAddress).CC}, client CCgen = {link.ClientHost.LastCC}");
        Assert.Equal(1u, link.ServerHost.Tao.Get(InMemoryLink.ClientAddress).CC);   // SEG.CC of the CC.NEW SYN
        var (next, _) = Transact(link, "d"u8.ToArray());
        Assert.Equal(2u, next.SendCC);
        Assert.True(link.Accepted[^1].TaoPassed, "TAO test after the CC.NEW connection");
        Assert.Equal(4, link.Deliveries.Count);
    }

    /// <summary>
    /// paper-notes §5.2: "Under cookies the TAO cache learns only from connections whose address is proven". Every
    /// SYN's MSS option used to write a TAO entry for its (unproven) source address, and the cache is LRU(1024): a
    /// flood of spoofed SYNs from 1024 addresses evicted the real client's proven CC (with CookieRequiresTao: 2 RTT).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Spoofed_SYNs_from_many_addresses_do_not_evict_a_proven_TAO_entry(bool withCC)
    {
        var link = new InMemoryLink(options: CookieTao());
        Transact(link, "a"u8.ToArray());
        Assert.Equal(Rtt, Transact(link, "b"u8.ToArray()).Response);
        var proven = link.ServerHost.Tao.Get(InMemoryLink.ClientAddress);
        link.DropFilter = p => p.Segment.DestinationPort >= 50000;      // their SYN-ACKs go nowhere
        for (uint i = 0; i < 1100; i++)
        {
            var syn = new TcpSegment((ushort)(50000 + i % 1000), InMemoryLink.ServerPort, 1234 + i, 0, TcpFlags.Syn | TcpFlags.Fin, 65535,
                withCC ? new TcpOptions { Mss = 1460, CC = 7 + i, FastOpenCookie = new byte[8] } : new TcpOptions { Mss = 1460 },
                "x"u8.ToArray());
            link.Listener.OnSegment(0xC0A80000 + i, InMemoryLink.ServerAddress, syn, link.Now);   // 1100 spoofed sources
        }
        link.Pump();
        Assert.Equal(1, link.ServerHost.Tao.Count);                        // only the proven client is cached
        Assert.Equal(proven.CC, link.ServerHost.Tao.Get(InMemoryLink.ClientAddress).CC);
        Assert.Equal(Rtt, Transact(link, "c"u8.ToArray()).Response);
    }

    // ---------------------------------------------------------------- replays (these hold up)

    [Fact]
    public void Replays_of_a_TAO_SYN_with_a_raised_CC_never_store_the_mail_twice()
    {
        var epoch = new DateTimeOffset(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
        var link = new InMemoryLink();
        var box = new Maildir(Path.Combine(_root, "Maildir"));
        using var store = new ExactlyOnceDelivery(box, new TransactionLedger(TransactionLedger.PathBeside(box), TransactionLedger.DefaultWindow, clock: () => epoch + link.Now));
        link.ServeSmtp(store);
        byte[] Request(string txid)
        {
            var cs = new ClientSession(new ClientIdentity("client.example", "t/1", txid),
                new MailRequest("a@example.org", ["b@example.net"], "Subject: hi\r\n\r\nhello\r\n"u8.ToArray()), ClientMode.Greetingless);
            cs.Start();
            return cs.TakeOutput();
        }
        Transact(link, Request("tx-0"));
        link.Sent.Clear();
        Transact(link, Request("tx-1"));
        var syn = link.Sent.First(p => p.Direction == InMemoryLink.Direction.ToServer && p.Segment.Has(TcpFlags.Syn)).Segment;
        Assert.Equal(2, box.NewMessages().Count);
        foreach (var after in new[] { TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(10), TimeSpan.FromHours(3) })
        {
            link.RunUntilQuiet(link.Now + after);
            foreach (var s in new[] { syn, syn with { Options = syn.Options with { CC = syn.Options.CC + 1_000_000 } } })
            {
                link.Listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, s, link.Now);
                link.RunUntilQuiet(link.Now + TimeSpan.FromMinutes(5));
            }
        }
        output.WriteLine($"app saw {link.Deliveries.Count} requests, duplicates {store.Duplicates}");
        Assert.Equal(2, box.NewMessages().Count);
        Assert.Equal(2, store.Delivered);
    }
}
