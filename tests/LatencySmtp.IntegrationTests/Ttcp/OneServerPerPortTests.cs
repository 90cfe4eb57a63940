using System.Net;
using LatencySmtp.Smtp;
using LatencySmtp.Transport;
using LatencySmtp.Transport.Delivery;
using LatencySmtp.Transport.Linux;
using LatencySmtp.Transport.Raw;
using LatencySmtp.Transport.Variants;

namespace LatencySmtp.IntegrationTests.Ttcp;

/// <summary>
/// Adversarial review: two servers on one address and port split its connections, and the same TXID was
/// delivered twice (once by each). A second server, raw or kernel, must refuse to start.
/// </summary>
public sealed class OneServerPerPortTests : IDisposable
{
    private readonly string _ns = $"lsm-porttest-{Environment.ProcessId}";
    private readonly string _root = Directory.CreateTempSubdirectory("lsm-port-").FullName;
    private static readonly IPEndPoint Listen = new(IPAddress.Loopback, 2533);

    public OneServerPerPortTests()
    {
        HostCommand.Run("ip", ["netns", "add", _ns]);
        HostCommand.Run("ip", ["-n", _ns, "link", "set", "lo", "up"]);
    }

    private IVariantServer Start(SmtpVariant variant, string maildir) =>
        VariantFactory.StartServer(variant, new ServerSetup(Listen, _ns, new Maildir(Path.Combine(_root, maildir)),
            new ServerOptions { HostName = "mx.lsm.test" }));

    private string SilencerTables() => HostCommand.RunIn(_ns, "nft", ["list", "tables", "netdev"]);

    [Theory]
    [InlineData(SmtpVariant.Ttcp, SmtpVariant.Ttcp)]
    [InlineData(SmtpVariant.Ttcp, SmtpVariant.EarlyPipe)]
    [InlineData(SmtpVariant.EarlyPipe, SmtpVariant.TtcpCookie)]
    [InlineData(SmtpVariant.EarlyPipe, SmtpVariant.EarlyPipe)]
    [InlineData(SmtpVariant.Classic, SmtpVariant.Classic)]
    public async Task A_second_server_on_a_served_address_and_port_refuses_to_start(SmtpVariant first, SmtpVariant second)
    {
        var running = Start(first, "first");
        try
        {
            var tablesBefore = SilencerTables();
            var e = Assert.ThrowsAny<Exception>(() => Start(second, "second"));   // wrapped by NetNamespace.Run
            Assert.Contains("already in use", e.Message);
            Assert.Equal(tablesBefore, SilencerTables());          // the refused server left no nft table
        }
        finally
        {
            await running.DisposeAsync();
        }
        // The port is free again once the first server is gone.
        await using var again = Start(second, "again");
        Assert.Equal(Listen.Port, again.Endpoint.Port);
    }

    public void Dispose()
    {
        HostCommand.TryRun("ip", ["netns", "delete", _ns]);
        Directory.Delete(_root, recursive: true);
    }
}
