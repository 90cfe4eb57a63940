using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using LatencySmtp.Experiments.Accuracy;
using LatencySmtp.Experiments.Specs;
using LatencySmtp.Testbed;
using Xunit.Abstractions;
using TestbedT = LatencySmtp.Testbed.Testbed;

namespace LatencySmtp.IntegrationTests.Testbed;

/// <summary>The link emulator on real namespaces: backend detection, loss/duplication on the wire, accuracy, testbed up.</summary>
[Collection(TestbedCollection.Name)]
public partial class EmulatorTests(ITestOutputHelper output)
{
    [Fact]
    public void NetemDetectionAgreesWithTcAndLeavesNothingBehind()
    {
        var probe = LatencySmtp.Testbed.Emulator.Probe();
        output.WriteLine(probe.Evidence);
        // Independent check: the same qdisc on the loopback of a namespace of our own.
        string ns = $"lsm-emutest-{Environment.ProcessId}";
        Run("ip", "netns", "add", ns);
        int tc;
        try
        {
            Run("ip", "-n", ns, "link", "set", "lo", "up");
            tc = RunExit("tc", "-n", ns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms");
        }
        finally
        {
            Run("ip", "netns", "delete", ns);
        }
        Assert.Equal(tc == 0, probe.NetemAvailable);
        Assert.DoesNotContain(Directory.GetFiles(TestbedNames.NamespaceDirectory), f => Path.GetFileName(f).StartsWith($"lsm-probe-{Environment.ProcessId}-", StringComparison.Ordinal));
        if (probe.NetemAvailable) return;
        // This kernel: netem demanded is refused with the probe's evidence, auto falls back to the delay line.
        var e = Assert.Throws<TestbedException>(() => TestbedT.Create(new TestbedOptions { Emulator = EmulatorChoice.Netem }));
        Assert.Contains("netem", e.Message);
        using var bed = TestbedT.Create(new TestbedOptions { DelayClientToServer = TimeSpan.FromMilliseconds(1), DelayServerToClient = TimeSpan.FromMilliseconds(1) });
        Assert.Equal(TestbedT.UserspaceDelayLineBackend, bed.EmulatorBackend);
        Assert.Contains("netem", bed.EmulatorEvidence);
    }

    [Fact]
    public void SeededLossAndDuplicationRepeatOnTheWire()
    {
        // Only pings cross (IPv6 off, neighbours permanent): frame n of a run meets the fate of frame n of the other.
        string Pattern(int seed)
        {
            using var bed = TestbedT.Create(new TestbedOptions
            {
                DelayClientToServer = TimeSpan.FromMilliseconds(1), DelayServerToClient = TimeSpan.FromMilliseconds(1),
                Loss = 0.2, Duplicate = 0.1, Seed = seed,
            });
            string text = PingText(bed.ClientNamespace, bed.ServerIPAddress.ToString(), 100, "0.02");
            bed.Dispose();
            output.WriteLine(bed.DelayLineLog);
            var replies = IcmpSeq().Matches(text).Select(m => m.Groups[1].Value + (m.Groups[2].Success ? "d" : "")).ToList();
            return string.Join(",", replies);
        }
        string a = Pattern(11), b = Pattern(11), c = Pattern(12);
        output.WriteLine($"seed 11: {a}\nseed 12: {c}");
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        var seqs = a.Split(',');
        int answered = seqs.Count(s => !s.EndsWith('d')), duplicates = seqs.Count(s => s.EndsWith('d'));
        // Each ping survives both ways with 0.8² = 0.64: 64 of 100 expected (±5σ ≈ 24).
        Assert.InRange(answered, 40, 88);
        Assert.True(duplicates > 0, "10 % duplication each way must show DUP! replies");
    }

    [Fact]
    public async Task ReducedAccuracyExperimentMeetsTheTarget()
    {
        var spec = ExperimentSpec.Parse("""
            kind = "emulator-accuracy"
            one_way_delay_ms = [1, 25]
            ping_count = 20
            handshakes = 20
            accuracy_warmup = 3
            rate_pps = [1000]
            rate_duration_s = 0.2
            """, "accuracy-reduced");
        var dir = Directory.CreateTempSubdirectory("lsm-accuracy-");
        try
        {
            var outcome = await new AccuracyRunner(spec, dir.FullName, new StringWriter()).RunAsync(["test"], CancellationToken.None);
            foreach (var r in outcome.Summary)
                output.WriteLine($"{r.Method} {r.OneWayDelayMs} ms: n={r.N} median error {r.MedianErrorMs:F3} ms p99 {r.P99ErrorMs:F3} ms target {r.TargetMs} ms");
            Assert.Equal(4, outcome.Summary.Count);
            Assert.All(outcome.Summary, r => Assert.Equal(20, r.N));
            Assert.All(outcome.Summary, r => Assert.True(r.MeetsTarget, $"{r.Method} at {r.OneWayDelayMs} ms: median error {r.MedianErrorMs:F3} ms > {r.TargetMs} ms"));
            Assert.True(outcome.TargetMet);
            var rate = Assert.Single(outcome.Rate);
            Assert.Equal(200, rate.Sent);
            Assert.Equal(0, rate.Lost);
            foreach (var f in new[] { "accuracy.csv", "summary.csv", "rate.csv", "accuracy.png", "run.json" })
                Assert.True(File.Exists(Path.Combine(dir.FullName, f)), f);
            Assert.Equal(1 + 80, File.ReadAllLines(Path.Combine(dir.FullName, "accuracy.csv")).Length);
            using var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.FullName, "run.json")));
            Assert.Equal(outcome.EmulatorBackend, run.RootElement.GetProperty("emulator_backend").GetString());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void TestbedUpWithDelay25msPingsAt50msAndDownRemovesIt()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "latency-smtp.dll");
        string name = $"lsm-up-{Environment.ProcessId}";
        string json = RunCli(dll, "testbed", "up", "--delay", "25ms", "--jitter", "0ms", "--loss", "0%", "--seed", "5", "--name", name, "--json");
        try
        {
            using var state = JsonDocument.Parse(json);
            string client = state.RootElement.GetProperty("client_namespace").GetString()!;
            string server = state.RootElement.GetProperty("server_address").GetString()!;
            Assert.Equal(5, state.RootElement.GetProperty("seed").GetInt32());
            var times = PingTime().Matches(PingText(client, server, 5, "0.2")).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Order().ToList();
            output.WriteLine($"ping: {string.Join(", ", times)} ms");
            Assert.Equal(5, times.Count);
            Assert.InRange(times[2], 49.5, 51.0);
        }
        finally
        {
            string down = RunCli(dll, "testbed", "down", "--name", name);
            Assert.Contains("removed 1", down);
        }
        Assert.DoesNotContain(TestbedNames.Namespaces(name), LatencySmtp.Transport.Linux.NetNamespace.Exists);
    }

    private static string RunCli(string dll, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60))) { p.Kill(true); throw new TimeoutException($"latency-smtp {string.Join(' ', args)}"); }
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"latency-smtp {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    private static string PingText(string ns, string server, int count, string interval)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", ns, "ping", "-n", "-c", count.ToString(CultureInfo.InvariantCulture), "-i", interval, "-W", "1", server })
            start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var text = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(30))) p.Kill(true);
        p.WaitForExit();
        return text.Result;   // ping exits 1 when some replies are missing: that is data here, not failure
    }

    private static void Run(string file, params string[] args) => Assert.Equal(0, RunExit(file, args));

    private static int RunExit(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromSeconds(15))) p.Kill(true);
        p.WaitForExit();
        return p.ExitCode;
    }

    [GeneratedRegex(@"icmp_seq=([0-9]+) ttl=[0-9]+ time=[0-9.]+ ms( \(DUP!\))?")]
    private static partial Regex IcmpSeq();

    [GeneratedRegex(@"time=([0-9.]+) ms")]
    private static partial Regex PingTime();
}
