using System.Diagnostics;
using System.Net;
using System.Text;
using LatencySmtp.Smtp;
using LatencySmtp.Tcp;
using LatencySmtp.Transport;
using LatencySmtp.Transport.Delivery;
using LatencySmtp.Transport.Linux;
using LatencySmtp.Transport.Raw;
using LatencySmtp.Transport.Variants;
using Xunit.Abstractions;

namespace LatencySmtp.Tests.Transport;

/// <summary>
/// The raw client and server drivers (threads, real time, the real Maildir) on an in-process wire: what happens
/// around the Tcbs. Each transaction takes milliseconds; the tests that wait for a retransmission take about a second.
/// </summary>
public sealed class RawTtcpDriverTests(ITestOutputHelper output) : IDisposable
{
    private const uint ClientAddress = 0x0A000101, ServerAddress = 0x0A000102;
    private const ushort Port = 2529;
    private static readonly ServerOptions Smtp = new() { HostName = "mx.lsm.test" };
    private readonly string _root = Directory.CreateTempSubdirectory("lsm-rawdriver-").FullName;
    private readonly StringWriter _logText = new();
    private TextWriter? _log;

    private TextWriter Log => _log ??= TextWriter.Synchronized(_logText);

    private Maildir NewMaildir() => new(Path.Combine(_root, "Maildir"));

    private static ClientSession Session(int i) =>
        new(new ClientIdentity("client.lsm.test", "LatencySmtp/test", $"tx-{i}"),
            new MailRequest("a@example.org", ["b@example.net"], Encoding.ASCII.GetBytes($"Subject: {i}\r\n\r\nhello {i}\r\n")), ClientMode.Greetingless);

    private static bool WaitUntil(Func<bool> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit) return false;
            Thread.Sleep(10);
        }
        return true;
    }

    private static bool IsPureAck(TcpSegment s) => s.Flags == TcpFlags.Ack && s.Payload.IsEmpty;

    /// <summary>A drop filter that loses the client's first ACK of the server's FIN.</summary>
    private static Func<uint, uint, TcpSegment, bool> LoseTheFinalAck(Action onLost)
    {
        uint? finEnd = null;
        bool done = false;
        return (src, _, s) =>
        {
            if (src == ServerAddress && s.Has(TcpFlags.Fin)) finEnd = s.Seq + (uint)s.SequenceLength;
            if (done || src != ClientAddress || !IsPureAck(s) || s.Ack != finEnd) return false;
            onLost();
            return done = true;
        };
    }

    [Fact]
    public void Sessions_of_connections_that_closed_on_a_segment_are_released()
    {
        var wire = new LoopbackWire();
        var maildir = NewMaildir();
        using var server = new RawTtcpServer(wire.Attach(ServerAddress), Port, maildir, Smtp, log: Log);
        using var client = new RawTtcpClient(wire.Attach(ClientAddress));
        for (int i = 0; i < 5; i++)
        {
            var r = client.Run(ServerAddress, Port, Session(i), TimeSpan.FromSeconds(5));
            Assert.True(r.Accepted, r.Error);
        }
        // Each connection ended in LAST-ACK on the client's final ACK; its session (Tcb, 64 KiB ring, ServerSession) goes with it.
        Assert.True(WaitUntil(() => server.ListenerState.Connections == 0 && server.Sessions == 0, TimeSpan.FromSeconds(3)),
            $"connections {server.ListenerState.Connections}, sessions {server.Sessions}\n{_logText}");
        Assert.Equal(5, server.Delivered);
        Assert.Equal(5, maildir.NewMessages().Count);
    }

    [Fact]
    public void A_delivery_that_throws_is_answered_451_and_the_server_serves_the_next_transaction()
    {
        var wire = new LoopbackWire();
        var maildir = NewMaildir();
        int calls = 0;
        using var server = new RawTtcpServer(wire.Attach(ServerAddress), Port, maildir, Smtp, null, Log,
            (store, pending) => Interlocked.Increment(ref calls) == 1
                ? throw new UnauthorizedAccessException("Access to the path '/secret/Maildir/tmp' is denied.")
                : store.Deliver(pending));
        using var client = new RawTtcpClient(wire.Attach(ClientAddress));

        var first = client.Run(ServerAddress, Port, Session(1), TimeSpan.FromSeconds(5));
        output.WriteLine($"{first}\n{_logText}");
        Assert.False(first.Accepted);
        Assert.Equal(451, first.FinalReply?.Code);
        var text = string.Join(" ", first.FinalReply!.Lines);
        Assert.StartsWith("4.3.0", text);
        Assert.DoesNotContain("/secret", text);                        // the server's paths stay in its log
        Assert.Contains("delivery failed: UnauthorizedAccessException", _logText.ToString());

        var second = client.Run(ServerAddress, Port, Session(2), TimeSpan.FromSeconds(5));
        Assert.True(second.Accepted, second.Error);
        Assert.Single(maildir.NewMessages());
        Assert.True(WaitUntil(() => server.Sessions == 0, TimeSpan.FromSeconds(3)));
    }

    /// <summary>A timer (here an idle timeout of zero) closes the connection in the step its request is read: no reply
    /// can go out, so nothing is acted on, nothing throws, and the session is released.</summary>
    [Fact]
    public void A_connection_a_timer_closed_is_not_answered_and_its_session_is_released()
    {
        var wire = new LoopbackWire();
        var maildir = NewMaildir();
        using var server = new RawTtcpServer(wire.Attach(ServerAddress), Port, maildir, Smtp, new TtcpOptions { IdleTimeout = TimeSpan.Zero }, Log);
        using var client = new RawTtcpClient(wire.Attach(ClientAddress));
        // TAO primed on both sides (no segment has crossed yet): the SYN's request is accepted at once.
        client.Host.SeedCC(10);
        client.Host.Tao.Set(ServerAddress, new TaoEntry(null, 5, null));
        server.Host.Tao.Set(ClientAddress, new TaoEntry(5, null, null));

        var r = client.Run(ServerAddress, Port, Session(1), TimeSpan.FromSeconds(1.5));
        output.WriteLine($"{r}\n{_logText}");
        Assert.False(r.Accepted);
        Assert.True(WaitUntil(() => server.Sessions == 0, TimeSpan.FromSeconds(3)), $"sessions {server.Sessions}");
        Assert.Contains("connection timed out", _logText.ToString());
        Assert.DoesNotContain("Cannot send", _logText.ToString());
        Assert.Equal(0, server.Delivered);
    }

    /// <summary>
    /// RFC 793 §3.5: the client's last ACK can be lost; the connection stays in TIME-WAIT to ACK the server's
    /// retransmitted FIN. The run returns at once (its result is not delayed), the client host answers later.
    /// </summary>
    [Fact]
    public void A_lost_final_ACK_is_repeated_from_TIME_WAIT_after_the_run_returned()
    {
        var wire = new LoopbackWire();
        using var server = new RawTtcpServer(wire.Attach(ServerAddress), Port, NewMaildir(), Smtp, log: Log);
        using var client = new RawTtcpClient(wire.Attach(ClientAddress));
        Assert.True(client.Run(ServerAddress, Port, Session(0), TimeSpan.FromSeconds(5)).Accepted);   // first contact: TAO from now on
        Assert.True(WaitUntil(() => server.ListenerState.Connections == 0, TimeSpan.FromSeconds(3)));

        int lost = 0;
        wire.DropFilter = LoseTheFinalAck(() => lost++);
        var clock = Stopwatch.StartNew();
        var r = client.Run(ServerAddress, Port, Session(1), TimeSpan.FromSeconds(5));
        var returnedAfter = clock.Elapsed;
        Assert.True(r.Accepted, r.Error);
        Assert.Equal(1, lost);
        Assert.True(returnedAfter < TimeSpan.FromMilliseconds(500), $"run returned after {returnedAfter}");
        Assert.True(client.TimeWaitConnections >= 1);
        Assert.Equal(1, server.ListenerState.Connections);             // LAST-ACK: the server waits for the lost ACK

        // The server retransmits after its RTO (1 s); the TIME-WAIT connection ACKs again and the server closes cleanly.
        Assert.True(WaitUntil(() => server.ListenerState.Connections == 0, TimeSpan.FromSeconds(3)),
            $"server still holds {server.ListenerState.Connections} connection(s)\n{_logText}");
        Assert.Equal(2, wire.Sent.Count(s => s.Source == ClientAddress && s.Segment.SourcePort == r.LocalPort && IsPureAck(s.Segment)));
        Assert.DoesNotContain("retransmission limit", _logText.ToString());
    }

    /// <summary>The CLI's path: a one-shot client's Dispose stays until the server's first retransmission would have
    /// come (2 RTO), ACKs it if it comes, and never longer than its bound.</summary>
    [Fact]
    public async Task A_one_shot_client_lingers_for_the_first_retransmission_and_no_longer()
    {
        var wire = new LoopbackWire();
        using var server = new RawTtcpServer(wire.Attach(ServerAddress), Port, NewMaildir(), Smtp, log: Log);
        var setup = new ClientSetup(new IPEndPoint(Routes.ToAddress(ServerAddress), Port), null, "lo", Routes.ToAddress(ClientAddress),
            SilenceKernel: false, TimeWaitLinger: TimeSpan.FromSeconds(3));
        var identity = new ClientIdentity("client.lsm.test", "LatencySmtp/test", "tx-1");
        var request = new MailRequest("a@example.org", ["b@example.net"], "Subject: x\r\n\r\nx\r\n"u8.ToArray());

        // Nothing in TIME-WAIT: Dispose does not wait.
        var idle = RawVariantClient.Create(SmtpVariant.Ttcp, setup, (_, _, a) => wire.Attach(a));
        var clock = Stopwatch.StartNew();
        idle.Dispose();
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(500), $"{clock.Elapsed}");

        // The final ACK is lost: the server's retransmission comes during the linger and is ACKed.
        int lost = 0;
        wire.DropFilter = LoseTheFinalAck(() => lost++);
        var client = RawVariantClient.Create(SmtpVariant.Ttcp, setup, (_, _, a) => wire.Attach(a));
        var r = await client.SendAsync(identity, request, TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.True(r.Accepted, r.Error);
        Assert.Equal(1, lost);
        clock.Restart();
        client.Dispose();
        var lingered = clock.Elapsed;
        output.WriteLine($"lingered {lingered}");
        Assert.InRange(lingered, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(3.5));
        Assert.True(WaitUntil(() => server.ListenerState.Connections == 0, TimeSpan.FromMilliseconds(200)),
            $"server still holds {server.ListenerState.Connections} connection(s)\n{_logText}");
    }

    [Fact]
    public void A_server_whose_ledger_cannot_open_releases_its_link()
    {
        var maildir = NewMaildir();
        Directory.CreateDirectory(TransactionLedger.PathBeside(maildir));   // the ledger "file" is a directory
        var links = new List<TrackingLink>();
        var setup = new ServerSetup(new IPEndPoint(IPAddress.Loopback, Port), null, maildir, Smtp, Interface: "lo", SilenceKernel: false);
        Assert.ThrowsAny<Exception>(() => RawVariantServer.Start(SmtpVariant.Ttcp, setup,
            (_, _, a) => { var l = new TrackingLink(new LoopbackWire().Attach(a)); links.Add(l); return l; }));
        Assert.True(Assert.Single(links).Disposed);
    }

    [Fact]
    public void A_client_with_a_corrupt_state_file_starts_fresh_and_releases_its_link()
    {
        var state = Path.Combine(_root, "ttcp-client.json");
        File.WriteAllText(state, "{\"LastCC\":7,\"Peers\":{\"167772418\":{\"CCSent\":5,\"Mss\":1460,\"Cookie\":\"ABC\"}}}");
        var links = new List<TrackingLink>();
        var setup = new ClientSetup(new IPEndPoint(Routes.ToAddress(ServerAddress), Port), null, "lo", Routes.ToAddress(ClientAddress),
            SilenceKernel: false, StateFile: state);
        var client = RawVariantClient.Create(SmtpVariant.Ttcp, setup,
            (_, _, a) => { var l = new TrackingLink(new LoopbackWire().Attach(a)); links.Add(l); return l; });
        Assert.False(Assert.Single(links).Disposed);
        client.Dispose();
        Assert.True(links[0].Disposed);
    }

    private sealed class TrackingLink(ISegmentLink inner) : ISegmentLink
    {
        public bool Disposed { get; private set; }
        public uint LocalAddress => inner.LocalAddress;
        public long Malformed => inner.Malformed;
        public void Send(uint destination, TcpSegment segment) => inner.Send(destination, segment);
        public bool TryReceive(int timeoutMs, ushort? localPort, out uint source, out TcpSegment segment) =>
            inner.TryReceive(timeoutMs, localPort, out source, out segment);
        public void Dispose() { Disposed = true; inner.Dispose(); }
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
