using System.Diagnostics;
using LatencySmtp.Transport.Linux;
using Xunit.Abstractions;

namespace LatencySmtp.IntegrationTests.Testbed;

[Collection(TestbedCollection.Name)]
public class LinuxPrimitivesTests(ITestOutputHelper output)
{
    [Fact]
    public void StopwatchTicksAreClockMonotonicNanoseconds()
    {
        Assert.Equal(1_000_000_000, Stopwatch.Frequency);
        for (int i = 0; i < 100; i++)
        {
            long before = Stopwatch.GetTimestamp();
            long clock = MonotonicClock.ReadClockMonotonicNanoseconds();
            long after = MonotonicClock.NowTicks;
            Assert.InRange(clock, before, after);
        }
        Assert.InRange(MonotonicClock.Now, TimeSpan.FromTicks(MonotonicClock.NowTicks / 100 - 10_000), TimeSpan.FromTicks(MonotonicClock.NowTicks / 100 + 10_000));
    }

    [Fact]
    public void SleepUntilWakesAfterTheDeadlineAndSoonAfterIt()
    {
        // Measured the way the delay line sleeps: its own thread, 1 ns timer slack, SCHED_FIFO (else a busy
        // machine's compilers decide the wake-up time, not the clock).
        var lateness = new List<double>();
        bool early = false, realtime = false;
        var thread = new Thread(() =>
        {
            MonotonicClock.MinimizeTimerSlack();
            realtime = LinuxProcess.TrySetRealtimePriority(20);
            for (int i = 0; i < 40; i++)
            {
                long deadline = MonotonicClock.NowTicks + MonotonicClock.TimeSpanToTicks(TimeSpan.FromMilliseconds(2));
                MonotonicClock.SleepUntil(deadline);
                long woke = MonotonicClock.NowTicks;
                early |= woke < deadline;
                lateness.Add((woke - deadline) / 1000.0);
            }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(10)));
        lateness.Sort();
        output.WriteLine($"SleepUntil lateness µs: median {lateness[20]:F1}, max {lateness[^1]:F1}, realtime {realtime}");
        Assert.True(realtime, "root may use SCHED_FIFO");
        Assert.False(early, "woke before the deadline");
        Assert.True(lateness[20] < 200, $"median lateness {lateness[20]} µs");

        long past = MonotonicClock.NowTicks - 1_000_000;
        var watch = Stopwatch.StartNew();
        MonotonicClock.SleepUntil(past);
        Assert.True(watch.Elapsed < TimeSpan.FromMilliseconds(5));
    }

    [Fact]
    public void PacketSocketOnLoopbackSeesAFrameItSendsOnlyWithoutIgnoreOutgoing()
    {
        // A private namespace keeps this loopback to ourselves.
        string ns = $"lsmt-{Environment.ProcessId}-lo";
        RunIp("netns", "add", ns);
        try
        {
            RunIp("-n", ns, "link", "set", "lo", "up");
            using var seesAll = NetNamespace.Run(ns, () => PacketSocket.Open("lo", ignoreOutgoing: false));
            using var ignoresOwn = NetNamespace.Run(ns, () => PacketSocket.Open("lo"));
            Assert.Equal(1, seesAll.InterfaceIndex);
            Assert.Equal(new byte[6], seesAll.HardwareAddress);

            var frame = new byte[60];
            frame[12] = 0x88; frame[13] = 0xb5;   // local experimental EtherType
            frame[14] = 0x5a;
            ignoresOwn.Send(frame);

            // On loopback a frame goes out and comes back in: one socket sees both copies, the other only the incoming one.
            var buffer = new byte[2048];
            for (int copy = 0; copy < 2; copy++)
            {
                Assert.Equal(60, seesAll.Receive(buffer, 1000));
                Assert.Equal(0x5a, buffer[14]);
            }
            Assert.Equal(60, ignoresOwn.Receive(buffer, 1000));
            var watch = Stopwatch.StartNew();
            Assert.Equal(0, ignoresOwn.Receive(buffer, 200));
            Assert.InRange(watch.ElapsedMilliseconds, 190, 1000);
            Assert.Equal(0, seesAll.Receive(buffer, 50));

            // A frame larger than the buffer is discarded, never handed out cut short.
            var big = new byte[600];
            big[12] = 0x88; big[13] = 0xb5;
            ignoresOwn.Send(big);
            Assert.Equal(0, seesAll.Receive(new byte[100], 300));
            Assert.Equal(2, seesAll.TruncatedFrames);
        }
        finally
        {
            RunIp("netns", "delete", ns);
        }
    }

    private static void RunIp(params string[] args)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        Assert.True(p.WaitForExit(10_000));
        Assert.True(p.ExitCode == 0, $"ip {string.Join(' ', args)}: {p.StandardError.ReadToEnd()}");
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public class TestbedCollection
{
    public const string Name = "Testbed";
}
