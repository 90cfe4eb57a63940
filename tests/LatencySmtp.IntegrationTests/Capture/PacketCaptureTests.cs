using LatencySmtp.Testbed.Capture;
using TimestampResolution = SharpPcap.TimestampResolution;

namespace LatencySmtp.IntegrationTests.Capture;

/// <summary>Real captures (root): loopback with swaks against a lock-step listener, and a private namespace.</summary>
public sealed class PacketCaptureTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("lsm-capture-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    internal static BoundedProcess.Result RunSwaks(int port, int messages = 1)
    {
        BoundedProcess.Result? last = null;
        for (var i = 0; i < messages; i++)
        {
            last = BoundedProcess.Run("swaks",
                ["--server", $"127.0.0.1:{port}", "--from", "alice@client.test", "--to", "bob@capture.test",
                 "--helo", "client.test", "--body", "Hello from the capture test.\r\n", "--timeout", "10"],
                TimeSpan.FromSeconds(20));
            Assert.True(last.ExitCode == 0, $"swaks failed: {last.StandardOutput}\n{last.StandardError}");
        }
        return last!;
    }

    [Fact]
    public void Loopback_capture_of_an_smtp_dialogue_is_a_nanosecond_pcap_that_tshark_reads()
    {
        using var listener = new LockstepSmtpListener();
        var path = Path.Combine(_directory, "lo.pcap");

        long count;
        using (var capture = PacketCapture.Start(null, "lo", path, $"tcp port {listener.Port}"))
        {
            RunSwaks(listener.Port);
            capture.Stop();
            capture.Stop(); // idempotent
            count = capture.PacketCount;
            Assert.Equal(TimestampResolution.Nanosecond, capture.Resolution);
            Assert.Equal(0, capture.DroppedByKernel);
        }

        Assert.Equal(1, listener.MessagesAccepted);
        // 3-way handshake + 7 lock-step replies and their commands + teardown: well above 15 frames.
        Assert.True(count >= 15, $"only {count} packets captured");
        // Nanosecond pcap magic 0xa1b23c4d, little-endian on disk.
        Assert.Equal(new byte[] { 0x4d, 0x3c, 0xb2, 0xa1 }, File.ReadAllBytes(path)[..4]);

        var tshark = BoundedProcess.Run("tshark", ["-r", path, "-T", "fields", "-e", "frame.number", "-e", "tcp.len"], TimeSpan.FromSeconds(30));
        Assert.Equal(0, tshark.ExitCode);
        Assert.DoesNotContain("error", tshark.StandardError, StringComparison.OrdinalIgnoreCase);
        var rows = tshark.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(count, rows.Length);
        // Every frame matched the filter, so every frame is TCP with a length field.
        Assert.All(rows, row => Assert.Matches(@"^\d+\t\d+$", row));
    }

    [Fact]
    public void Capture_inside_a_network_namespace_sees_that_namespace_only()
    {
        var ns = $"lsmcap{Environment.ProcessId}";
        var path = Path.Combine(_directory, "ns.pcap");
        BoundedProcess.Checked("ip", "netns", "add", ns);
        try
        {
            BoundedProcess.Checked("ip", "-n", ns, "link", "set", "lo", "up");
            using var capture = PacketCapture.Start(ns, "lo", path, "icmp");
            BoundedProcess.Checked("ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "1", "127.0.0.1");
            capture.Stop();
            // 3 echo requests + 3 replies, each seen once on lo.
            Assert.Equal(6, capture.PacketCount);
        }
        finally
        {
            BoundedProcess.Run("ip", ["netns", "del", ns], TimeSpan.FromSeconds(10));
        }
        Assert.False(File.Exists($"/var/run/netns/{ns}"));
        var tshark = BoundedProcess.Checked("tshark", "-r", path, "-T", "fields", "-e", "icmp.type");
        Assert.Equal(["8", "0", "8", "0", "8", "0"], tshark.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Unknown_interface_is_rejected_and_leaves_no_file_open()
    {
        var path = Path.Combine(_directory, "none.pcap");
        var error = Assert.Throws<ArgumentException>(() => PacketCapture.Start(null, "no-such-if0", path));
        Assert.Contains("no-such-if0", error.Message);
    }

    [Fact]
    public void A_bad_filter_is_rejected()
    {
        var path = Path.Combine(_directory, "badfilter.pcap");
        Assert.ThrowsAny<Exception>(() => PacketCapture.Start(null, "lo", path, "tcp port nonsense-words"));
    }
}
