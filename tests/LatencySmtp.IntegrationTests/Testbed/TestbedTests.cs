using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using LatencySmtp.Testbed;
using LatencySmtp.Transport.Linux;
using Xunit.Abstractions;
using TestbedT = LatencySmtp.Testbed.Testbed;

namespace LatencySmtp.IntegrationTests.Testbed;

[Collection(TestbedCollection.Name)]
public partial class TestbedTests(ITestOutputHelper output)
{
    private const ushort RawPort = 2525;

    [Fact]
    public void PingRoundTripIsTwiceTheOneWayDelay()
    {
        using var testbed = TestbedT.Create(new TestbedOptions());
        var rtts = Ping(testbed, count: 5, interval: "0.2");
        testbed.Dispose();
        output.WriteLine($"ping RTTs ms: {string.Join(", ", rtts)}");
        output.WriteLine(testbed.DelayLineLog);
        Assert.Equal(5, rtts.Count);
        Assert.InRange(Median(rtts), 48.5, 51.5);
        Assert.Equal(TestbedT.UserspaceDelayLineBackend, testbed.EmulatorBackend);
    }

    [Fact]
    public void AsymmetricDelaysAddUp()
    {
        using var testbed = TestbedT.Create(new TestbedOptions { DelayClientToServer = TimeSpan.FromMilliseconds(5), DelayServerToClient = TimeSpan.FromMilliseconds(15) });
        var rtts = Ping(testbed, count: 5, interval: "0.2");
        Assert.InRange(Median(rtts), 19.5, 21.5);
    }

    [Fact]
    public async Task KernelTcpConnectTakesOneRoundTripAndCarriesDataBothWays()
    {
        using var testbed = TestbedT.Create(new TestbedOptions { RawServerPorts = [RawPort] });   // the drop rules must spare other ports
        var serverEndpoint = new IPEndPoint(testbed.ServerIPAddress, 5870);
        using var listener = NetNamespace.Run(testbed.ServerNamespace, () =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(serverEndpoint);
            socket.Listen();
            return socket;
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        // The first connect of this process also pays for JIT-compiling .NET's socket code, and this test
        // thread is not real-time, so a busy machine delays its wake-ups: the fastest of five later connects
        // shows the path, and none can beat the emulated round trip.
        var connects = new List<TimeSpan>();
        Socket? client = null, server = null;
        for (int attempt = 0; attempt < 6; attempt++)
        {
            client?.Dispose();
            server?.Dispose();
            client = NetNamespace.Run(testbed.ClientNamespace, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true });
            var accept = listener.AcceptAsync(timeout.Token).AsTask();
            long start = MonotonicClock.NowTicks;
            await client.ConnectAsync(serverEndpoint, timeout.Token);
            connects.Add(MonotonicClock.TicksToTimeSpan(MonotonicClock.NowTicks - start));
            server = await accept;
        }
        using var clientSocket = client!;
        using var serverSocket = server!;
        output.WriteLine($"connect took {string.Join(", ", connects.Select(c => $"{c.TotalMilliseconds:F2} ms"))}");
        // The delay line releases frames early by its calibrated own latency (TestbedOptions.CompensateForwardingLatency),
        // so a round trip can undercut the nominal 50 ms by a little, never by more than that compensation.
        double floor = 50 - 2 * testbed.ForwardingCompensation.TotalMilliseconds - 0.05;
        Assert.All(connects, c => Assert.True(c.TotalMilliseconds >= floor, $"connect faster than the round trip: {c}"));
        Assert.InRange(connects.Skip(1).Min().TotalMilliseconds, floor, 52.0);
        Assert.Equal(testbed.ClientIPAddress, ((IPEndPoint)serverSocket.RemoteEndPoint!).Address);

        // 300 kB each way: many full-sized segments, which die in the ferry if checksum offload were on.
        var request = new byte[300_000];
        new Random(1).NextBytes(request);
        var echo = Task.Run(async () =>
        {
            var buffer = new byte[request.Length];
            await ReceiveExactly(serverSocket, buffer, timeout.Token);
            await serverSocket.SendAsync(buffer.Reverse().ToArray(), timeout.Token);
        });
        await clientSocket.SendAsync(request, timeout.Token);
        var reply = new byte[request.Length];
        await ReceiveExactly(clientSocket, reply, timeout.Token);
        await echo;
        Assert.Equal(request.Reverse().ToArray(), reply);
    }

    [Fact]
    public void RawSynOnARawPortReachesTheServerPacketSocketAndNoKernelAnswers()
    {
        using var testbed = TestbedT.Create(new TestbedOptions { RawServerPorts = [RawPort] });
        using var serverTap = NetNamespace.Run(testbed.ServerNamespace, () => PacketSocket.Open(testbed.ServerInterface));
        using var clientTap = NetNamespace.Run(testbed.ClientNamespace, () => PacketSocket.Open(testbed.ClientInterface));
        using var clientRaw = NetNamespace.Run(testbed.ClientNamespace, RawIpv4Socket.Open);
        using var serverRaw = NetNamespace.Run(testbed.ServerNamespace, RawIpv4Socket.Open);
        Assert.Equal(testbed.ServerHardwareAddress, serverTap.HardwareAddress);

        // Control: to a port that is not raw the server kernel resets, and the client tap sees it.
        clientRaw.Send(Packets.TcpSegment(testbed.ClientAddress, testbed.ServerAddress, 40001, RawPort + 1, Packets.Syn), testbed.ServerAddress);
        var reset = WaitForTcp(clientTap, t => t.SourcePort == RawPort + 1 && t.DestinationPort == 40001, TimeSpan.FromSeconds(2));
        Assert.NotNull(reset);
        Assert.True((reset.Value.Flags & Packets.Rst) != 0);

        long sent = MonotonicClock.NowTicks;
        clientRaw.Send(Packets.TcpSegment(testbed.ClientAddress, testbed.ServerAddress, 40000, RawPort, Packets.Syn), testbed.ServerAddress);
        var syn = WaitForTcp(serverTap, t => t.DestinationPort == RawPort && t.SourcePort == 40000, TimeSpan.FromSeconds(2));
        var oneWay = MonotonicClock.TicksToTimeSpan(MonotonicClock.NowTicks - sent);
        Assert.NotNull(syn);
        Assert.Equal(Packets.Syn, syn.Value.Flags);
        Assert.Equal(testbed.ClientAddress, syn.Value.Source);
        output.WriteLine($"SYN seen by the server tap after {oneWay.TotalMilliseconds:F2} ms");
        Assert.InRange(oneWay.TotalMilliseconds, 24.5, 100);   // it crossed the delay line (the upper bound only catches a hang)
        Assert.Null(WaitForTcp(clientTap, t => t.Source == testbed.ServerAddress, TimeSpan.FromMilliseconds(300)));

        // The other way round: a SYN-ACK from the raw port must not make the client kernel reset.
        serverRaw.Send(Packets.TcpSegment(testbed.ServerAddress, testbed.ClientAddress, RawPort, 40000, Packets.Syn | Packets.Ack, 5000, 1001), testbed.ClientAddress);
        Assert.NotNull(WaitForTcp(clientTap, t => t.SourcePort == RawPort, TimeSpan.FromSeconds(2)));
        Assert.Null(WaitForTcp(serverTap, t => t.Source == testbed.ClientAddress, TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public void DisposeRemovesNamespacesTablesAndTheDelayLine()
    {
        var testbed = TestbedT.Create(new TestbedOptions { RawServerPorts = [RawPort, 2526] });
        string[] namespaces = [testbed.ClientNamespace, testbed.MiddleNamespace, testbed.ServerNamespace];
        int delayLine = testbed.DelayLineProcessId;
        Assert.All(namespaces, ns => Assert.Contains(ns, ListNamespaces()));
        Assert.True(LinuxProcess.IsAlive(delayLine));
        Assert.Contains($"table netdev {testbed.NftTableName}", Run("ip", "netns", "exec", testbed.ServerNamespace, "nft", "list", "tables"));
        Assert.Contains($"table netdev {testbed.NftTableName}", Run("ip", "netns", "exec", testbed.ClientNamespace, "nft", "list", "tables"));

        testbed.Dispose();
        testbed.Dispose();   // idempotent
        var remaining = ListNamespaces();
        Assert.All(namespaces, ns => Assert.DoesNotContain(ns, remaining));
        Assert.False(LinuxProcess.IsAlive(delayLine));
        Assert.DoesNotContain(testbed.NftTableName!, Run("nft", "list", "tables"));
        Assert.Contains("client->server: received=", testbed.DelayLineLog);   // it stopped on SIGTERM and reported
    }

    [Theory]
    [InlineData("namespaces")]
    [InlineData("veth")]
    [InlineData("nft")]
    [InlineData("delay-line")]
    public void AFailingStepLeavesNothingBehind(string failingStep)
    {
        string name = $"lsm-{Environment.ProcessId}-f{failingStep.Length}";
        int? delayLine = null;
        var options = new TestbedOptions
        {
            Name = name,
            RawServerPorts = [RawPort],
            AfterBuildStep = step =>
            {
                if (step != failingStep) return;
                delayLine = NamespacePids(TestbedNames.MiddleNamespace(name)).Cast<int?>().FirstOrDefault();
                throw new InvalidOperationException("injected failure");
            },
        };
        var error = Assert.Throws<TestbedException>(() => TestbedT.Create(options));
        Assert.Contains("injected failure", error.Message);
        var remaining = ListNamespaces();
        Assert.All(TestbedNames.Namespaces(name), ns => Assert.DoesNotContain(ns, remaining));
        Assert.Equal(failingStep == "delay-line", delayLine is not null);
        if (delayLine is int pid) Assert.False(LinuxProcess.IsAlive(pid));
    }

    [Fact]
    public void RemoveStaleRemovesATestbedWhoseOwnerIsDead()
    {
        int deadPid = Enumerable.Range(2, 30_000).Select(i => 32_000 - i).First(p => !Directory.Exists($"/proc/{p}"));
        string name = $"lsm-{deadPid}-{Environment.ProcessId}";
        using var testbed = TestbedT.Create(new TestbedOptions { Name = name, DelayClientToServer = TimeSpan.Zero, DelayServerToClient = TimeSpan.Zero });
        int delayLine = testbed.DelayLineProcessId;
        using var alive = TestbedT.Create(new TestbedOptions());   // owned by this live process: must survive

        Assert.True(TestbedT.RemoveStale() >= 1);
        var remaining = ListNamespaces();
        Assert.All(TestbedNames.Namespaces(name), ns => Assert.DoesNotContain(ns, remaining));
        Assert.False(LinuxProcess.IsAlive(delayLine));
        Assert.Contains(alive.MiddleNamespace, remaining);
        Assert.True(LinuxProcess.IsAlive(alive.DelayLineProcessId));
    }

    [Fact]
    public async Task DelayLineExitsWhenItsParentDies()
    {
        using var testbed = TestbedT.Create(new TestbedOptions());
        using var parent = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        var settings = new DelayLineSettings
        {
            ClientInterface = testbed.MiddleClientInterface,
            ServerInterface = testbed.MiddleServerInterface,
            ParentProcessId = parent.Id,
            RealtimePriority = 0,
        };
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["netns", "exec", testbed.MiddleNamespace, Environment.ProcessPath!,
                     Path.Combine(AppContext.BaseDirectory, "latency-smtp.dll"), "__delay-line", .. settings.ToArguments()])
            start.ArgumentList.Add(arg);
        using var second = Process.Start(start)!;
        try
        {
            string? ready = await second.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(DelayLineProgram.ReadyLine, ready);
            Assert.False(second.HasExited);

            parent.Kill();
            parent.WaitForExit();
            Assert.True(second.WaitForExit(TimeSpan.FromSeconds(3)), "delay line outlived its parent");
            Assert.Equal(0, second.ExitCode);
        }
        finally
        {
            if (!second.HasExited) second.Kill();
        }
    }

    [Fact]
    public void TestbedUpOutlivesItsObjectAndDownRemovesIt()
    {
        var state = TestbedCommands.Up(new TestbedOptions { DelayClientToServer = TimeSpan.FromMilliseconds(5), DelayServerToClient = TimeSpan.FromMilliseconds(5) });
        try
        {
            Assert.True(File.Exists(TestbedCommands.StatePath(state.Name)));
            Assert.Equal(state.ToJson(), TestbedState.FromJson(File.ReadAllText(TestbedCommands.StatePath(state.Name))).ToJson());
            Assert.Contains(state.Name, TestbedCommands.List().Select(s => s.Name));
            Assert.True(LinuxProcess.IsAlive(state.DelayLineProcessId));
            Assert.Equal(0, TestbedT.RemoveStale() - TestbedT.RemoveStale());   // a recorded testbed is never stale
            Assert.Contains(state.MiddleNamespace, ListNamespaces());
            var rtts = Ping(state.ClientNamespace, state.ServerAddress, count: 3, interval: "0.2");
            Assert.InRange(Median(rtts), 9.5, 11.5);
        }
        finally
        {
            Assert.Equal(1, TestbedCommands.Down(state.Name));
        }
        Assert.DoesNotContain(state.MiddleNamespace, ListNamespaces());
        Assert.False(File.Exists(TestbedCommands.StatePath(state.Name)));
        Assert.False(LinuxProcess.IsAlive(state.DelayLineProcessId));
    }

    [Theory]
    [InlineData(25)]
    [InlineData(0)]
    public void DelayLineAccuracy(int oneWayMilliseconds)
    {
        var delay = TimeSpan.FromMilliseconds(oneWayMilliseconds);
        using var testbed = TestbedT.Create(new TestbedOptions { DelayClientToServer = delay, DelayServerToClient = delay });
        var rtts = Ping(testbed, count: 200, interval: "0.01");
        testbed.Dispose();
        output.WriteLine(testbed.DelayLineLog);
        rtts.Sort();
        double median = Median(rtts), p99 = rtts[(int)Math.Ceiling(0.99 * rtts.Count) - 1];
        output.WriteLine($"one-way {oneWayMilliseconds} ms, {rtts.Count} pings: RTT min {rtts[0]:F3} median {median:F3} p99 {p99:F3} max {rtts[^1]:F3} ms");
        Assert.Equal(200, rtts.Count);
        // Compensated for the line's own latency: the median sits on the nominal RTT within the issue-5 target
        // (max(0.2 ms, 1 %)); with no delay there is nothing to compensate against, the path's own RTT remains.
        double target = Math.Max(0.2, 0.02 * oneWayMilliseconds);
        Assert.InRange(median, 2 * oneWayMilliseconds - target, 2 * oneWayMilliseconds + (oneWayMilliseconds == 0 ? 0.5 : target));
        Assert.InRange(p99, 2 * oneWayMilliseconds - target, 2 * oneWayMilliseconds + 2.0);
    }

    private static List<double> Ping(TestbedT testbed, int count, string interval) =>
        Ping(testbed.ClientNamespace, testbed.ServerIPAddress.ToString(), count, interval);

    private static List<double> Ping(string clientNamespace, string server, int count, string interval)
    {
        string text = Run("ip", "netns", "exec", clientNamespace, "ping", "-n", "-c", count.ToString(CultureInfo.InvariantCulture), "-i", interval, "-W", "2", server);
        return PingTime().Matches(text).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
    }

    [GeneratedRegex(@"time=([0-9.]+) ms")]
    private static partial Regex PingTime();

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static Packets.TcpView? WaitForTcp(PacketSocket tap, Func<Packets.TcpView, bool> match, TimeSpan within)
    {
        var buffer = new byte[65536];
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < within)
        {
            int length = tap.Receive(buffer, (int)Math.Max(1, (within - watch.Elapsed).TotalMilliseconds));
            if (length > 0 && Packets.TryReadTcp(buffer.AsSpan(0, length), out var tcp) && match(tcp)) return tcp;
        }
        return null;
    }

    private static async Task ReceiveExactly(Socket socket, Memory<byte> buffer, CancellationToken cancel)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer[total..], cancel);
            if (n == 0) throw new IOException("connection closed early");
            total += n;
        }
    }

    private static int[] NamespacePids(string ns) =>
        Run("ip", "netns", "pids", ns).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();

    private static string[] ListNamespaces() =>
        Run("ip", "netns", "list").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToArray();

    private static string Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(30_000), $"{file} hung");
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {stderr.Result}");
        return stdout.Result;
    }
}
