using System.Text;
using LatencySmtp.Smtp;
using LatencySmtp.Tcp;
using LatencySmtp.Testbed;
using LatencySmtp.Transport.Delivery;
using LatencySmtp.Transport.Linux;
using LatencySmtp.Transport.Raw;

namespace LatencySmtp.IntegrationTests.Ttcp;

/// <summary>The T/TCP-style transaction on real packets between two namespaces, and what bad input does to it.</summary>
public sealed class TtcpOnWireTests : IDisposable
{
    private const ushort Port = 2526;
    private readonly LatencySmtp.Testbed.Testbed _bed;
    private readonly string _root;
    private readonly Maildir _maildir;
    private readonly RawTtcpServer _server;
    private readonly RawTtcpClient _client;

    public TtcpOnWireTests()
    {
        _bed = LatencySmtp.Testbed.Testbed.Create(new TestbedOptions
        {
            DelayClientToServer = TimeSpan.FromMilliseconds(5),
            DelayServerToClient = TimeSpan.FromMilliseconds(5),
            RawServerPorts = [Port],
        });
        _root = Directory.CreateTempSubdirectory("lsm-ttcp-").FullName;
        _maildir = new Maildir(Path.Combine(_root, "Maildir"));
        _server = new RawTtcpServer(RawLink.Open(_bed.ServerNamespace, _bed.ServerInterface, _bed.ServerAddress), Port, _maildir,
            new ServerOptions { HostName = "mx.lsm.test" });
        _client = new RawTtcpClient(RawLink.Open(_bed.ClientNamespace, _bed.ClientInterface, _bed.ClientAddress));
    }

    private static ClientSession Session(byte[] message, string txid) =>
        new(new ClientIdentity("client.lsm.test", "LatencySmtp/test", txid),
            new MailRequest("a@example.org", ["b@example.net"], message), ClientMode.Greetingless);

    private static byte[] Message(string subject) =>
        Encoding.ASCII.GetBytes($"From: <a@example.org>\r\nTo: <b@example.net>\r\nSubject: {subject}\r\n\r\nHello over T/TCP.\r\n");

    [Fact]
    public void Message_lands_in_the_maildir_byte_for_byte_and_the_server_identifies_itself()
    {
        var message = Message("one");
        var result = _client.Run(_bed.ServerAddress, Port, Session(message, "t1"), TimeSpan.FromSeconds(10));
        Assert.True(result.Accepted, result.Error);
        Assert.Contains("mx.lsm.test", result.ServerIdentity);
        Assert.Equal(message, File.ReadAllBytes(Assert.Single(_maildir.NewMessages())));
    }

    [Fact]
    public void Truncated_and_corrupted_segments_are_counted_and_dropped_and_the_server_keeps_serving()
    {
        using var raw = NetNamespace.Run(_bed.ClientNamespace, RawIpv4Socket.Open);
        var syn = new TcpSegment(31000, Port, 1000, 0, TcpFlags.Syn | TcpFlags.Fin, 65535, TcpOptions.None, Encoding.ASCII.GetBytes("XID x y\r\n"));
        var packet = new byte[1500];
        var n = Ipv4Packet.EmitTcp(packet, _bed.ClientAddress, _bed.ServerAddress, syn, 7);
        var corrupted = packet.AsSpan(0, n).ToArray();
        corrupted[^3] ^= 0x55;                                   // payload bit flip: bad checksum
        raw.Send(corrupted, _bed.ServerAddress);
        var truncated = packet.AsSpan(0, n).ToArray();
        truncated[2] = 0; truncated[3] = 30;                     // IP total length 30: TCP header cut short
        raw.Send(truncated.AsSpan(0, 30), _bed.ServerAddress);
        Thread.Sleep(200);
        Assert.True(_server.Malformed >= 1, $"malformed counted: {_server.Malformed}");
        Assert.Empty(_maildir.NewMessages());

        var result = _client.Run(_bed.ServerAddress, Port, Session(Message("after garbage"), "t2"), TimeSpan.FromSeconds(10));
        Assert.True(result.Accepted, result.Error);
        Assert.Single(_maildir.NewMessages());
    }

    [Fact]
    public void Greetingless_garbage_gets_an_smtp_error_reply_and_nothing_is_delivered()
    {
        var result = _client.Run(_bed.ServerAddress, Port,
            new ClientSession(new ClientIdentity("client.lsm.test", "x", null), new MailRequest("no-at-sign..", ["b@example.net"], Message("bad")), ClientMode.Greetingless),
            TimeSpan.FromSeconds(10));
        Assert.False(result.Accepted);
        Assert.NotNull(result.FinalReply);
        Assert.True(result.FinalReply!.Code >= 500, result.FinalReply.ToString());
        Assert.Empty(_maildir.NewMessages());
    }

    [Fact]
    public void A_server_that_is_not_there_gives_a_clear_error_within_the_time_limit()
    {
        var start = DateTime.UtcNow;
        var result = _client.Run(_bed.ServerAddress, Port + 1, Session(Message("void"), "t3"), TimeSpan.FromSeconds(3));
        Assert.False(result.Accepted);
        Assert.False(string.IsNullOrEmpty(result.Error));
        Assert.InRange((DateTime.UtcNow - start).TotalSeconds, 0, 6);
    }

    /// <summary>Adversarial review: the server forgets a connection's SMTP session once the connection is gone.</summary>
    [Fact]
    public void Sessions_of_finished_connections_are_released()
    {
        for (int i = 0; i < 10; i++)
        {
            var r = _client.Run(_bed.ServerAddress, Port, Session(Message($"leak {i}"), $"leak-{i}"), TimeSpan.FromSeconds(10));
            Assert.True(r.Accepted, r.Error);
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        while ((_server.Sessions > 0 || _server.ListenerState.Connections > 0) && DateTime.UtcNow < deadline) Thread.Sleep(20);
        Assert.Equal(0, _server.ListenerState.Connections);
        Assert.Equal(0, _server.Sessions);          // was 10: each held a terminated Tcb (64 KiB ring) and its ServerSession
        Assert.Equal(10, _maildir.NewMessages().Count);
    }

    public void Dispose()
    {
        _client.Dispose();
        _server.Dispose();
        _bed.Dispose();
        Directory.Delete(_root, recursive: true);
    }
}
