using LatencySmtp.Experiments.Running;
using LatencySmtp.Experiments.Specs;
using LatencySmtp.Testbed.Analysis;

namespace LatencySmtp.IntegrationTests.Capture;

/// <summary>
/// TraceAnalyzer (PacketDotNet) against figures computed from tshark's fields by <see cref="TsharkFlows"/>, on real
/// captures of every variant: the committed quick run, and a fresh reduced quick run through the experiment runner.
/// </summary>
public sealed class TraceAnalyzerAgainstTsharkTests
{
    /// <summary>Both read the same timestamps; the tolerance only absorbs decimal → double conversion.</summary>
    private const double TimeToleranceMs = 0.01;

    private static readonly string[] AllVariants = ["classic", "pipelined", "early-pipe", "tfo", "ttcp", "ttcp-cookie"];

    internal static string RepositoryFile(string relative)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "LatencySmtp.sln"))) return Path.Combine(d.FullName, relative);
        throw new DirectoryNotFoundException("no LatencySmtp.sln above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void Committed_quick_capture_of_all_six_variants_agrees_with_tshark()
    {
        var pcap = RepositoryFile(Path.Combine("results", "quick", "capture-rtt50.pcap"));
        var flows = AssertAgreesWithTshark(pcap);
        // 20 measured transactions and 1 warm-up per variant.
        Assert.All(AllVariants, v => Assert.Equal(21, flows.Count(f => f.VariantGuess == v)));
    }

    [Fact]
    public async Task Fresh_capture_of_a_reduced_quick_run_agrees_with_tshark()
    {
        var spec = ExperimentSpec.Load(Path.Combine(AppContext.BaseDirectory, "experiments", "quick.toml")) with { Repetitions = 2, GapMs = 5 };
        var output = Directory.CreateTempSubdirectory("lsm-tshark-").FullName;
        try
        {
            await new ExperimentRunner(spec, output, TextWriter.Null).RunAsync(["test"], CancellationToken.None);
            var flows = AssertAgreesWithTshark(Path.Combine(output, "capture-rtt50.pcap"));
            Assert.All(AllVariants, v => Assert.Equal(3, flows.Count(f => f.VariantGuess == v)));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
            LatencySmtp.Testbed.Testbed.RemoveStale();
        }
    }

    private static IReadOnlyList<TransactionTrace> AssertAgreesWithTshark(string pcap)
    {
        var expected = TsharkFlows.Read(pcap);
        var actual = TraceAnalyzer.Analyze(pcap);
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < actual.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            var flow = $"tcp.stream {e.Stream} ({a.Flow}, {a.VariantGuess})";
            Assert.True((e.ClientPort, e.ServerPort) == (a.Flow.ClientPort, a.Flow.ServerPort), $"{flow}: tshark has ports {e.ClientPort} -> {e.ServerPort}");
            Assert.True(Math.Abs((a.FirstSyn - DateTime.UnixEpoch.AddTicks((long)(e.FirstSyn * TimeSpan.TicksPerSecond))).Ticks) <= 1, $"{flow}: first SYN");
            Assert.True((e.SegmentsToServer, e.SegmentsToClient) == (a.SegmentsClientToServer, a.SegmentsServerToClient),
                $"{flow}: segments tshark {e.SegmentsToServer}/{e.SegmentsToClient}, analyzer {a.SegmentsClientToServer}/{a.SegmentsServerToClient}");
            Assert.True((e.BytesToServer, e.BytesToClient) == (a.PayloadBytesClientToServer, a.PayloadBytesServerToClient),
                $"{flow}: payload bytes tshark {e.BytesToServer}/{e.BytesToClient}, analyzer {a.PayloadBytesClientToServer}/{a.PayloadBytesServerToClient}");
            Assert.NotNull(e.HandshakeRttMs);
            Assert.True(Math.Abs((double)e.HandshakeRttMs!.Value - a.HandshakeRttMs) <= TimeToleranceMs,
                $"{flow}: handshake RTT tshark {e.HandshakeRttMs} ms, analyzer {a.HandshakeRttMs} ms");
            Assert.NotNull(e.SynToAcceptMs);                                   // every transaction of these runs was accepted
            Assert.NotNull(a.SynToAcceptMs);
            Assert.True(Math.Abs((double)e.SynToAcceptMs!.Value - a.SynToAcceptMs!.Value) <= TimeToleranceMs,
                $"{flow}: SYN -> 250 tshark {e.SynToAcceptMs} ms, analyzer {a.SynToAcceptMs} ms");
            Assert.True(e.ClientWaits == a.ClientWaits, $"{flow}: client waits tshark {e.ClientWaits}, analyzer {a.ClientWaits}");
            Assert.Equal(e.Greetingless, a.VariantGuess is "early-pipe" or "tfo" or "ttcp" or "ttcp-cookie");
        }
        return actual;
    }
}
