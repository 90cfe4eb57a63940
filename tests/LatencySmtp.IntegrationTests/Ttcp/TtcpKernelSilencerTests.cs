using System.Diagnostics;
using LatencySmtp.Transport.Linux;
using LatencySmtp.Transport.Raw;

namespace LatencySmtp.IntegrationTests.Ttcp;

/// <summary>The nft tables that keep the kernel silent for ttcp: removed on Dispose, and a killed process's at the next start.</summary>
public sealed class TtcpKernelSilencerTests : IDisposable
{
    private readonly string _ns = $"lsm-silencetest-{Environment.ProcessId}";

    public TtcpKernelSilencerTests()
    {
        HostCommand.Run("ip", ["netns", "add", _ns]);
        HostCommand.Run("ip", ["-n", _ns, "link", "set", "lo", "up"]);
    }

    private string Tables() => HostCommand.RunIn(_ns, "nft", ["list", "tables", "netdev"]);

    [Fact]
    public void A_table_left_by_a_killed_process_is_removed_by_the_next_install_and_ours_by_dispose()
    {
        using var exited = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        exited.WaitForExit();
        string stale = $"{KernelSilencer.TablePrefix}{exited.Id}_1", alive = $"{KernelSilencer.TablePrefix}1_1";   // pid 1 lives
        HostCommand.RunIn(_ns, "nft", ["add", "table", "netdev", stale]);
        HostCommand.RunIn(_ns, "nft", ["add", "table", "netdev", alive]);

        string table;
        using (var silencer = KernelSilencer.Install(_ns, "lo", "tcp dport 2531"))
        {
            table = silencer.Table;
            var tables = Tables();
            Assert.DoesNotContain(stale, tables);
            Assert.Contains(alive, tables);
            Assert.Contains(table, tables);
        }
        Assert.DoesNotContain(table, Tables());
        Assert.Contains(alive, Tables());
    }

    public void Dispose() => HostCommand.TryRun("ip", ["netns", "delete", _ns]);
}
