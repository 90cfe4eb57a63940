using System.Diagnostics;
using System.Text;
using LatencySmtp.IntegrationTests.Testbed;
using LatencySmtp.Smtp;
using LatencySmtp.Tcp;
using LatencySmtp.Testbed;
using LatencySmtp.Transport.Delivery;
using LatencySmtp.Transport.Raw;
using Xunit.Abstractions;

namespace LatencySmtp.IntegrationTests.Security;

/// <summary>
/// The reasons T/TCP died, replayed on real namespaces: an off-path host (its own namespace, blind to the
/// server's answers) spoofs the client's address with SYN + request + FIN, and floods SYNs with data.
/// Plain ttcp against ttcp-cookie, side by side; every number is written to the test output.
/// </summary>
[Collection(TestbedCollection.Name)]
public sealed class OffPathAttackTests(ITestOutputHelper output)
{
    private const ushort TtcpPort = 2529, CookiePort = 2530;
    private static readonly TimeSpan OneWay = TimeSpan.FromMilliseconds(10);   // 20 ms RTT

    private sealed class Rig : IDisposable
    {
        public readonly LatencySmtp.Testbed.Testbed Bed;
        public readonly OffPathAttacker Attacker;
        public readonly string Root = Directory.CreateTempSubdirectory("lsm-sec-").FullName;
        public readonly Maildir Maildir;
        public readonly RawTtcpServer Server;
        public readonly RawTtcpClient Client;
        public readonly ushort Port;

        public Rig(bool cookie)
        {
            Port = cookie ? CookiePort : TtcpPort;
            Bed = LatencySmtp.Testbed.Testbed.Create(new TestbedOptions { DelayClientToServer = OneWay, DelayServerToClient = OneWay, RawServerPorts = [Port] });
            try
            {
                Attacker = OffPathAttacker.Attach(Bed);
                var options = new TtcpOptions { UseCookie = cookie };
                Maildir = new Maildir(Path.Combine(Root, "Maildir"));
                Server = new RawTtcpServer(RawLink.Open(Bed.ServerNamespace, Bed.ServerInterface, Bed.ServerAddress), Port, Maildir,
                    new ServerOptions { HostName = "mx.lsm.test" }, options);
                Client = new RawTtcpClient(RawLink.Open(Bed.ClientNamespace, Bed.ClientInterface, Bed.ClientAddress), options);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        private int _tx;

        public TransactionResult_ Send()
        {
            var session = new ClientSession(new ClientIdentity("client.lsm.test", "LatencySmtp/test", $"legit-{_tx++}"),
                new MailRequest("a@example.org", ["b@example.net"], Encoding.ASCII.GetBytes("Subject: legit\r\n\r\nhello\r\n")), ClientMode.Greetingless);
            var r = Client.Run(Bed.ServerAddress, Port, session, TimeSpan.FromSeconds(10));
            return new(r.Accepted, r.AcceptMs, r.Error);
        }

        public int Count(string subject) =>
            Maildir.NewMessages().Count(f => File.ReadAllText(f).Contains($"Subject: {subject}\r\n", StringComparison.Ordinal));

        public void Dispose()
        {
            Client?.Dispose();
            Server?.Dispose();
            Attacker?.Dispose();
            Bed?.Dispose();
            try { Directory.Delete(Root, true); } catch (IOException) { }
        }
    }

    public sealed record TransactionResult_(bool Accepted, double AcceptMs, string? Error);

    private static TcpSegment ForgedSyn(ushort port, ushort serverPort, Random rng, bool withCookie, string txid)
    {
        var request = GreetinglessRequest.Build(new ClientIdentity("client.lsm.test", "LatencySmtp/test", txid),
            new MailRequest("ceo@example.org", ["b@example.net"], Encoding.ASCII.GetBytes("Subject: forged\r\n\r\nwire the money\r\n")));
        var cookie = new byte[TfoCookieIssuer.CookieLength];
        rng.NextBytes(cookie);
        // A blind guess: any CC within half the sequence space above the cached one passes the TAO test.
        return new TcpSegment(port, serverPort, (uint)rng.NextInt64(1L << 32), 0, TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Psh, 65535,
            new TcpOptions { Mss = 1460, CC = (uint)rng.NextInt64(1, 1L << 32), FastOpenCookie = withCookie ? cookie : null }, request);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Spoofed_SYN_with_a_request_from_an_off_path_host(bool cookie)
    {
        const int attempts = 20;
        using var rig = new Rig(cookie);
        var warm = Enumerable.Range(0, 3).Select(_ => rig.Send()).ToList();
        Assert.All(warm, r => Assert.True(r.Accepted, r.Error));

        var rng = new Random(cookie ? 2 : 1);
        for (int i = 0; i < attempts; i++)
        {
            rig.Attacker.Send(rig.Bed.ClientAddress, rig.Bed.ServerAddress, ForgedSyn((ushort)(40000 + i), rig.Port, rng, cookie, $"forged-{i}"));
            Thread.Sleep(20);
        }
        Thread.Sleep(1000);
        int forged = rig.Count("forged");
        var after = Enumerable.Range(0, 3).Select(_ => rig.Send()).ToList();
        Assert.All(after, r => Assert.True(r.Accepted, r.Error));
        output.WriteLine($"{(cookie ? "ttcp-cookie" : "ttcp")}: {forged} of {attempts} spoofed requests delivered; legit accept ms " +
            $"before {string.Join("/", warm.Select(r => r.AcceptMs.ToString("F1")))}, after {string.Join("/", after.Select(r => r.AcceptMs.ToString("F1")))}; " +
            $"attacker sent {rig.Attacker.PacketsSent}");
        if (cookie)
            Assert.Equal(0, forged);
        else
            Assert.True(forged > 0, "the historical weakness should show: a guessed CC passes the TAO test");
        Assert.Equal(6, rig.Count("legit"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SYN_data_flood_keeps_state_bounded_and_the_client_served(bool cookie)
    {
        using var rig = new Rig(cookie);
        Assert.True(rig.Send().Accepted);
        Assert.True(rig.Send().Accepted);
        var baseline = Enumerable.Range(0, 5).Select(_ => rig.Send().AcceptMs).ToList();

        using var stop = new CancellationTokenSource();
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var flood = new Thread(() =>
        {
            var rng = new Random(3);
            int i = 0;
            var clock = Stopwatch.StartNew();
            // About 2000 SYNs with 1 KB of data per second, each from a new port, for at most 10 s.
            while (!stop.IsCancellationRequested && clock.Elapsed < TimeSpan.FromSeconds(10))
            {
                for (int k = 0; k < 2; k++, i++)
                {
                    var junk = new byte[1000];
                    rng.NextBytes(junk);
                    var syn = ForgedSyn((ushort)(30000 + i % 30000), rig.Port, rng, cookie, "x") with { Payload = junk };
                    rig.Attacker.Send(rig.Bed.ClientAddress, rig.Bed.ServerAddress, syn);
                }
                Thread.Sleep(1);
            }
        }) { IsBackground = true };
        flood.Start();
        Thread.Sleep(1000);
        var during = new List<TransactionResult_>();
        for (int i = 0; i < 10; i++)
        {
            during.Add(rig.Send());
            Thread.Sleep(100);
        }
        var state = rig.Server.ListenerState;
        stop.Cancel();
        flood.Join();
        long after = GC.GetTotalMemory(forceFullCollection: true);
        var ok = during.Where(r => r.Accepted).Select(r => r.AcceptMs).Order().ToList();
        output.WriteLine($"{(cookie ? "ttcp-cookie" : "ttcp")}: flood of {rig.Attacker.PacketsSent} SYN+1KB; legit {ok.Count}/10 accepted, " +
            $"accept ms median {Median(ok):F1} (min {ok.FirstOrDefault():F1}, max {ok.LastOrDefault():F1}), baseline {string.Join("/", baseline.Select(b => b.ToString("F1")))}; " +
            $"server connections {state.Connections}, half-open {state.HalfOpen} (peak {state.PeakHalfOpen}), recycled {state.Recycled}; " +
            $"managed heap {before} -> {after} bytes; failures: {string.Join("; ", during.Where(r => !r.Accepted).Select(r => r.Error))}");
        Assert.True(state.PeakHalfOpen <= 256);
        Assert.True(state.Recycled > 0, "the flood should have filled the half-open table");
        if (cookie)
        {
            Assert.Equal(10, ok.Count);
            Assert.True(Median(ok) < 3 * 20, $"median {Median(ok)} ms");   // still about one RTT
        }
        Assert.Equal(0, rig.Count("forged"));
    }

    private static double Median(IReadOnlyList<double> v) => v.Count == 0 ? double.NaN : v.Order().ElementAt(v.Count / 2);
}
