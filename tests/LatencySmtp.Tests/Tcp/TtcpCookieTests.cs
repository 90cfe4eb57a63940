using System.Text;
using LatencySmtp.Tcp;
using Xunit.Abstractions;

namespace LatencySmtp.Tests.Tcp;

/// <summary>ttcp-cookie on the in-memory link: first contact, valid, forged, foreign and aged cookies, and the spoofed-CC attack.</summary>
public class TtcpCookieTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Rtt = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);
    private static readonly byte[] Request = Encoding.ASCII.GetBytes("XID c.example t/1\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 5 LAST\r\nhelloQUIT\r\n");
    private static readonly byte[] Secret = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private static TtcpOptions Cookie(bool requiresTao = false) =>
        new() { UseCookie = true, CookieSecret = Secret, CookieRotation = TimeSpan.FromHours(1), CookieRequiresTao = requiresTao };

    private static InMemoryLink NewLink(TtcpOptions? options = null) => new(options: options ?? Cookie());

    /// <summary>Runs one transaction; returns the client, the server connection and the response time.</summary>
    private (Tcb Client, Tcb Server, TimeSpan Response) Transact(InMemoryLink link)
    {
        link.Sent.Clear();
        int accepted = link.Accepted.Count;
        var start = link.Now;
        var client = link.Connect(Request);
        Assert.True(link.Run(() => client.IsTerminated, link.Now + Limit), "client did not terminate");
        output.WriteLine(InMemoryLink.Describe(link.Sent) + "\n");
        Assert.Null(client.Error);
        Assert.Equal(accepted + 1, link.Accepted.Count);
        return (client, link.Accepted[^1], link.ResponseTimes[client] - start);
    }

    private static TcpSegment FirstSyn(InMemoryLink link) =>
        link.Sent.First(p => p.Direction == InMemoryLink.Direction.ToServer && p.Segment.Has(TcpFlags.Syn)).Segment;

    private static TcpSegment SynAck(InMemoryLink link) =>
        link.Sent.First(p => p.Direction == InMemoryLink.Direction.ToClient && p.Segment.Has(TcpFlags.Syn)).Segment;

    [Fact]
    public void First_contact_asks_for_a_cookie_and_takes_two_round_trips_then_one()
    {
        var link = NewLink();
        var (_, server, response) = Transact(link);
        var syn = FirstSyn(link);
        Assert.NotNull(syn.Options.FastOpenCookie);
        Assert.Empty(syn.Options.FastOpenCookie!);                     // the request: an empty option
        Assert.Equal(Request, syn.Payload.ToArray());                   // data rides along, held by the server
        Assert.Equal(CookieCheck.Requested, server.Cookie);
        Assert.False(server.AcceptedWithSyn);
        Assert.Equal(2 * Rtt, response);
        var cookie = SynAck(link).Options.FastOpenCookie;
        Assert.Equal(TfoCookieIssuer.CookieLength, cookie!.Length);
        Assert.Equal(cookie, link.ClientHost.Tao.Get(InMemoryLink.ServerAddress).Cookie);
        Assert.Equal(link.ServerHost.Cookies!.Issue(InMemoryLink.ClientAddress, link.Now), cookie);

        var (_, server2, response2) = Transact(link);
        Assert.Equal(cookie, FirstSyn(link).Options.FastOpenCookie);
        Assert.Equal(CookieCheck.Current, server2.Cookie);
        Assert.True(server2.AcceptedWithSyn);
        Assert.Equal(Rtt, response2);
        Assert.Equal(3, link.Sent.Count);                               // SYN+data+FIN, SYN-ACK+reply+FIN, ACK
        Assert.Null(SynAck(link).Options.FastOpenCookie);              // a current cookie is not re-issued
        Assert.Equal(2, link.Deliveries.Count);
    }

    [Theory]
    [InlineData("forged")]
    [InlineData("other-address")]
    [InlineData("other-server-key")]
    [InlineData("truncated")]
    public void An_invalid_cookie_means_handshake_first_and_a_fresh_cookie(string kind)
    {
        var link = NewLink();
        Transact(link);
        var good = link.ClientHost.Tao.Get(InMemoryLink.ServerAddress).Cookie!;
        byte[] bad = kind switch
        {
            "forged" => good.Select(b => (byte)(b ^ 0x5A)).ToArray(),
            "other-address" => link.ServerHost.Cookies!.Issue(InMemoryLink.ClientAddress + 1, link.Now),
            "other-server-key" => new TfoCookieIssuer(new byte[32], TimeSpan.FromHours(1)).Issue(InMemoryLink.ClientAddress, link.Now),
            _ => good[..4],
        };
        link.ClientHost.Tao.Update(InMemoryLink.ServerAddress, e => e with { Cookie = bad });

        var (_, server, response) = Transact(link);
        Assert.Equal(CookieCheck.Invalid, server.Cookie);
        Assert.False(server.AcceptedWithSyn);
        Assert.Equal(2 * Rtt, response);
        Assert.Equal(good, SynAck(link).Options.FastOpenCookie);
        Assert.Equal(good, link.ClientHost.Tao.Get(InMemoryLink.ServerAddress).Cookie);
        Assert.Equal(2, link.Deliveries.Count);                        // delivered once, after the handshake

        Assert.Equal(Rtt, Transact(link).Response);
    }

    [Fact]
    public void Cookies_age_through_the_previous_key_and_expire_after_two_periods()
    {
        var link = NewLink();
        Transact(link);
        var first = link.ClientHost.Tao.Get(InMemoryLink.ServerAddress).Cookie!;

        link.RunUntilQuiet(link.Now + TimeSpan.FromMinutes(70));      // next key period
        var (_, server, response) = Transact(link);
        Assert.Equal(CookieCheck.Previous, server.Cookie);
        Assert.Equal(Rtt, response);                                    // still accepted at once...
        var refreshed = link.ClientHost.Tao.Get(InMemoryLink.ServerAddress).Cookie!;
        Assert.NotEqual(first, refreshed);                             // ...and renewed on the SYN-ACK

        link.RunUntilQuiet(link.Now + TimeSpan.FromHours(2.5));        // two periods later: dead
        var (_, server2, response2) = Transact(link);
        Assert.Equal(CookieCheck.Invalid, server2.Cookie);
        Assert.Equal(2 * Rtt, response2);
    }

    [Fact]
    public void Requiring_TAO_too_falls_back_when_the_CC_is_new()
    {
        var link = NewLink(Cookie(requiresTao: true));
        Transact(link);
        Assert.True(Transact(link).Server.AcceptedWithSyn);
        // The client forgot what it sent (e.g. a reboot): CC.NEW with a valid cookie.
        link.ClientHost.Tao.Update(InMemoryLink.ServerAddress, e => e with { CCSent = null });
        var (_, server, response) = Transact(link);
        Assert.NotNull(FirstSyn(link).Options.CCNew);
        Assert.Equal(CookieCheck.Current, server.Cookie);
        Assert.False(server.AcceptedWithSyn);
        Assert.Equal(2 * Rtt, response);
    }

    /// <summary>
    /// An off-path attacker sends SYN + data + FIN with the client's address and a guessed, large CC.
    /// It never sees the SYN-ACK; the real client answers it with a RST.
    /// </summary>
    private static void Spoof(InMemoryLink link, ushort port, uint cc, byte[]? cookie, byte[] data)
    {
        var syn = new TcpSegment(port, InMemoryLink.ServerPort, 777_000, 0, TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Psh, 65535,
            new TcpOptions { Mss = 1460, CC = cc, FastOpenCookie = cookie }, data);
        link.Listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, syn, link.Now);
        link.RunUntilQuiet(link.Now + TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void Plain_ttcp_delivers_a_spoofed_SYN_with_a_guessed_CC_and_locks_the_client_out()
    {
        var link = NewLink(new TtcpOptions());
        Transact(link);
        Transact(link);
        var forged = Encoding.ASCII.GetBytes("XID evil t/1\r\nMAIL FROM:<ceo@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 4 LAST\r\npay!QUIT\r\n");
        Spoof(link, 31337, 1_000_000, null, forged);
        // RFC 1644's weakness (RFC 6247 §3): the TAO test passes for any CC above the cache.
        Assert.Equal(forged, link.Deliveries[^1]);
        Assert.Equal(3, link.Deliveries.Count);
        Assert.True(link.Accepted[^1].TaoPassed);
        // And the cache now holds the forged CC: the real client falls back to 2 RTT.
        Assert.Equal(1_000_000u, link.ServerHost.Tao.Get(InMemoryLink.ClientAddress).CC);
        Assert.Equal(2 * Rtt, Transact(link).Response);
    }

    [Fact]
    public void Ttcp_cookie_never_acts_on_a_spoofed_SYN_and_keeps_serving_the_client_in_one_RTT()
    {
        var link = NewLink();
        Transact(link);
        Transact(link);
        var forged = Encoding.ASCII.GetBytes("XID evil t/1\r\nMAIL FROM:<ceo@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 4 LAST\r\npay!QUIT\r\n");
        var guesses = new byte[][]
        {
            null!, [], new byte[8], [1, 2, 3, 4, 5, 6, 7, 8],
            link.ServerHost.Cookies!.Issue(0x0A0000FE, link.Now),       // the attacker's own valid cookie, other address
        };
        ushort port = 31000;
        foreach (var g in guesses)
            Spoof(link, port, 1_000_000u + port, g, forged);
            port++;
        Assert.Equal(2, link.Deliveries.Count);
        Assert.DoesNotContain(link.Deliveries, d => d.SequenceEqual(forged));
        Assert.Empty(link.Listener.Connections);                       // the client's RSTs cleared every half-open one
        Assert.Equal(Rtt, Transact(link).Response);                   // the TAO cache was not poisoned either
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_SYN_data_flood_keeps_state_bounded_and_the_cookie_client_served_in_one_RTT(bool cookie)
    {
        var link = NewLink(cookie ? Cookie() : new TtcpOptions());
        Transact(link);
        Transact(link);
        // The flood's SYN-ACKs go to ports nobody answers (an absent or silenced host): no RST clears them.
        link.DropFilter = p => p.Direction == InMemoryLink.Direction.ToClient && p.Segment.DestinationPort >= 50000;
        var rng = new Random(7);
        var junk = new byte[1000];
        rng.NextBytes(junk);
        var responses = new List<TimeSpan>();
        for (int burst = 0; burst < 5; burst++)
        {
            for (int i = 0; i < 1000; i++)
            {
                var syn = new TcpSegment((ushort)(50000 + burst * 1000 + i), InMemoryLink.ServerPort, (uint)rng.Next(), 0,
                    TcpFlags.Syn | TcpFlags.Fin, 65535,
                    new TcpOptions { Mss = 1460, CCNew = (uint)rng.Next(1, int.MaxValue), FastOpenCookie = cookie ? BitConverter.GetBytes(rng.NextInt64()) : null }, junk);
                link.Listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, syn, link.Now);
            }
            Assert.True(link.Listener.HalfOpen <= link.Listener.MaxHalfOpen);
            responses.Add(Transact(link).Response);
        }
        output.WriteLine($"recycled {link.Listener.HalfOpenRecycled}, half-open {link.Listener.HalfOpen}, responses {string.Join(", ", responses)}");
        Assert.True(link.Listener.HalfOpenRecycled >= 5000 - link.Listener.MaxHalfOpen);
        Assert.True(link.Listener.Connections.Count() <= link.Listener.MaxHalfOpen + 2);
        // Valid cookie: never half-open, never recycled, one RTT. Plain ttcp: the spoofed CC.NEW SYNs make
        // the server forget the client's CC (RFC 1644 §3.3), so the client is served, but in two RTTs.
        Assert.All(responses, r => Assert.Equal(cookie ? Rtt : 2 * Rtt, r));
        Assert.Equal(7, link.Deliveries.Count);                        // nothing of the flood reached the application
    }
}
