using LatencySmtp.Testbed.Analysis;
using LatencySmtp.Testbed.Capture;

namespace LatencySmtp.IntegrationTests.Capture;

/// <summary>The analyzer against tshark on a real loopback capture of swaks talking to a lock-step listener.</summary>
public sealed class TraceAnalyzerOnCaptureTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lsm-capture-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Segment_and_payload_counts_per_flow_equal_tsharks()
    {
        using var listener = new LockstepSmtpListener();
        var path = Path.Combine(_directory, "swaks.pcap");
        using (var capture = PacketCapture.Start(null, "lo", path, $"tcp port {listener.Port}"))
        {
            PacketCaptureTests.RunSwaks(listener.Port, messages: 2);
            capture.Stop();
        }
        Assert.Equal(2, listener.MessagesAccepted);

        // tshark's view: per (client port, direction) the number of segments and the sum of tcp.len.
        var tshark = BoundedProcess.Checked("tshark", "-r", path, "-T", "fields", "-E", "separator=,",
            "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.len");
        var rows = tshark.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(',').Select(int.Parse).ToArray())
            .ToList();
        var expected = rows
            .GroupBy(r => r[0] == listener.Port ? (Client: r[1], ToServer: false) : (Client: r[0], ToServer: true))
            .ToDictionary(g => g.Key, g => (Segments: g.Count(), Bytes: g.Sum(r => (long)r[2])));

        var flows = TraceAnalyzer.Analyze(path);

        Assert.Equal(2, flows.Count);
        Assert.True(flows[0].FirstSyn <= flows[1].FirstSyn);
        foreach (var flow in flows)
        {
            Assert.Equal(listener.Port, flow.Flow.ServerPort);
            Assert.Equal(expected[(flow.Flow.ClientPort, true)], (flow.SegmentsClientToServer, flow.PayloadBytesClientToServer));
            Assert.Equal(expected[(flow.Flow.ClientPort, false)], (flow.SegmentsServerToClient, flow.PayloadBytesServerToClient));
            Assert.Equal("classic", flow.VariantGuess);
            Assert.True(flow.HandshakeRttMs is > 0 and < 50, $"handshake RTT {flow.HandshakeRttMs} ms");
            Assert.True(flow.SynToAcceptMs is > 0 and < 10_000, $"accept after {flow.SynToAcceptMs} ms");
            Assert.InRange(flow.SynToAcceptMs!.Value, flow.HandshakeRttMs, 10_000);
        }
        Assert.Equal(expected.Count, 2 * flows.Count);
    }
}
