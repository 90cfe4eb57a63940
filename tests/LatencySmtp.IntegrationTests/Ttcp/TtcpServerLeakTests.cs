using System.Text;
using LatencySmtp.Smtp;
using LatencySmtp.Testbed;
using LatencySmtp.Transport.Delivery;
using LatencySmtp.Transport.Raw;

namespace LatencySmtp.IntegrationTests.Ttcp;

/// <summary>Adversarial review: RawTtcpServer must forget a connection's session once the connection is gone.</summary>
public sealed class TtcpServerLeakTests : IDisposable
{
    private const ushort Port = 2536;
    private readonly LatencySmtp.Testbed.Testbed _bed;
    private readonly string _root;
    private readonly Maildir _maildir;
    private readonly RawTtcpServer _server;
    private readonly RawTtcpClient _client;

    public TtcpServerLeakTests()
    {
        _bed = LatencySmtp.Testbed.Testbed.Create(new TestbedOptions
        {
            DelayClientToServer = TimeSpan.FromMilliseconds(5),
            DelayServerToClient = TimeSpan.FromMilliseconds(5),
            RawServerPorts = [Port],
        });
        _root = Directory.CreateTempSubdirectory("lsm-leak-").FullName;
        _maildir = new Maildir(Path.Combine(_root, "Maildir"));
        _server = new RawTtcpServer(RawLink.Open(_bed.ServerNamespace, _bed.ServerInterface, _bed.ServerAddress), Port, _maildir,
            new ServerOptions { HostName = "mx.lsm.test" });
        _client = new RawTtcpClient(RawLink.Open(_bed.ClientNamespace, _bed.ClientInterface, _bed.ClientAddress));
    }

    [Fact]
    public void Sessions_of_finished_connections_are_released()
    {
        for (int i = 0; i < 10; i++)
        {
            var session = new ClientSession(new ClientIdentity("client.lsm.test", "LatencySmtp/test", $"leak-{i}"),
                new MailRequest("a@example.org", ["b@example.net"], Encoding.ASCII.GetBytes($"Subject: {i}\r\n\r\nx\r\n")), ClientMode.Greetingless);
            var r = _client.Run(_bed.ServerAddress, Port, session, TimeSpan.FromSeconds(10));
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
