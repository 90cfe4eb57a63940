using System.Globalization;
using System.Text.Json;
using LatencySmtp.Testbed.Analysis;

namespace LatencySmtp.IntegrationTests.Capture;

/// <summary>`latency-smtp analyze FILE --json` run as a user runs it: the built tool in a process of its own.</summary>
public sealed class AnalyzeCommandTests
{
    [Fact]
    public void Analyze_json_of_the_committed_quick_capture_equals_the_analyzer_per_flow()
    {
        var pcap = TraceAnalyzerAgainstTsharkTests.RepositoryFile(Path.Combine("results", "quick", "capture-rtt50.pcap"));
        var cli = Path.Combine(AppContext.BaseDirectory, "latency-smtp.dll");
        var run = BoundedProcess.Run("dotnet", [cli, "analyze", pcap, "--json"], TimeSpan.FromSeconds(60));
        Assert.True(run.ExitCode == 0, $"analyze exited {run.ExitCode}: {run.StandardError}");

        using var json = JsonDocument.Parse(run.StandardOutput);
        var flows = json.RootElement.EnumerateArray().ToList();
        var expected = TraceAnalyzer.Analyze(pcap);
        Assert.Equal(126, expected.Count);
        Assert.Equal(expected.Count, flows.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, j) = (expected[i], flows[i]);
            Assert.Equal($"{e.Flow.Client}:{e.Flow.ClientPort}", j.GetProperty("client").GetString());
            Assert.Equal($"{e.Flow.Server}:{e.Flow.ServerPort}", j.GetProperty("server").GetString());
            Assert.Equal(e.VariantGuess, j.GetProperty("variant").GetString());
            Assert.Equal(e.FirstSyn, j.GetProperty("first_syn").GetDateTime());
            Assert.Equal(e.HandshakeRttMs, j.GetProperty("handshake_rtt_ms").GetDouble());
            Assert.Equal(e.SegmentsClientToServer, j.GetProperty("segments_c2s").GetInt32());
            Assert.Equal(e.SegmentsServerToClient, j.GetProperty("segments_s2c").GetInt32());
            Assert.Equal(e.PayloadBytesClientToServer, j.GetProperty("bytes_c2s").GetInt64());
            Assert.Equal(e.PayloadBytesServerToClient, j.GetProperty("bytes_s2c").GetInt64());
            Assert.Equal(e.ClientWaits, j.GetProperty("client_waits").GetInt32());
            var accept = j.GetProperty("syn_to_accept_ms");
            Assert.Equal(e.SynToAcceptMs, accept.ValueKind == JsonValueKind.Null ? null : accept.GetDouble());
        }
        Assert.All(flows, f => Assert.Equal(JsonValueKind.Number, f.GetProperty("syn_to_accept_ms").ValueKind));
        Assert.Equal(AllNames, flows.Select(f => f.GetProperty("variant").GetString()).Distinct().Order(StringComparer.Ordinal).ToArray());
    }

    private static readonly string[] AllNames = ["classic", "early-pipe", "pipelined", "tfo", "ttcp", "ttcp-cookie"];

    [Fact]
    public void Analyze_of_a_missing_file_fails_with_a_message_not_a_stack_trace()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "latency-smtp.dll");
        var missing = Path.Combine(Path.GetTempPath(), $"lsm-missing-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.pcap");
        var run = BoundedProcess.Run("dotnet", [cli, "analyze", missing, "--json"], TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("no such capture", run.StandardError + run.StandardOutput);
        Assert.DoesNotContain("   at ", run.StandardError);
    }
}
