using System.Diagnostics;
using System.Globalization;
using LatencySmtp.Experiments.Results;
using LatencySmtp.Experiments.Running;
using LatencySmtp.Experiments.Specs;
using LatencySmtp.Transport;

namespace LatencySmtp.IntegrationTests.Experiments;

/// <summary>
/// The spine end to end on real namespaces: both variants over the delay line, results on disk, the
/// round trips as the RFC model says, and nothing left behind.
/// </summary>
public sealed class QuickExperimentTests
{
    private static string SpecPath => Path.Combine(AppContext.BaseDirectory, "experiments", "quick.toml");

    [Fact]
    public async Task Quick_experiment_writes_results_and_matches_the_round_trip_model()
    {
        var spec = ExperimentSpec.Load(SpecPath) with { Repetitions = 6, GapMs = 5 };
        var output = Directory.CreateTempSubdirectory("lsm-quick-").FullName;
        try
        {
            var outcome = await new ExperimentRunner(spec, output, TextWriter.Null).RunAsync(["test"], CancellationToken.None);
            foreach (var f in new[] { "transactions.csv", "summary.csv", "latency.png", "latency.svg", "run.json", "capture-rtt50.pcap" })
                Assert.True(File.Exists(Path.Combine(output, f)), $"missing {f}");

            var rows = CsvFiles.ReadTransactions(Path.Combine(output, "transactions.csv"));
            Assert.Equal(6 * spec.Variants.Count, rows.Count);
            Assert.All(rows, r => Assert.Equal("accepted", r.Outcome));
            Assert.All(rows, r => Assert.NotNull(r.Segments));

            var summary = outcome.Summary.ToDictionary(s => s.Variant);
            // Model: classic n+6 = 7 RTT, pipelined 4, early-pipe 2, tfo and ttcp 1 once the cookie / TAO cache is
            // warm (the warm-up is first contact). The bound is the issues' criterion: the median within 10 % of
            // the model (ttcp: 1.0-1.2). Below the model only by the emulator's residual error (0.2 ms of 50).
            foreach (var v in spec.Variants)
            {
                Assert.Equal(6, summary[v.Name()].Delivered);
                Assert.Equal(0, summary[v.Name()].Duplicates);
                var model = v.ModelRoundTrips(1);
                Assert.InRange(summary[v.Name()].MedianRttCount, model * 0.99, model * 1.1);
            }
            // The one-segment exchange: SYN+data+FIN, SYN-ACK+replies+FIN, ACK.
            Assert.Contains(rows, r => r.Variant == "ttcp" && r.Segments == 3);
            var header = File.ReadLines(Path.Combine(output, "transactions.csv")).First();
            Assert.StartsWith("variant,rtt_ms,size_bytes,recipients,loss,rep,accept_ms,rtt_count,segments,bytes,outcome", header);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public async Task Ctrl_C_during_a_run_leaves_no_namespace_nft_table_or_process()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "latency-smtp.dll");
        var output = Directory.CreateTempSubdirectory("lsm-sigint-").FullName;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { cli, "run", SpecPath, "--out", output }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var pid = p.Id.ToString(CultureInfo.InvariantCulture);
        try
        {
            // Wait (bounded) until transactions are flowing, then interrupt as a user would.
            var seen = new TaskCompletionSource();
            p.OutputDataReceived += (_, e) => { if (e.Data?.Contains("rep 1:") == true) seen.TrySetResult(); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            var started = await Task.WhenAny(seen.Task, Task.Delay(TimeSpan.FromSeconds(60)));
            Assert.True(started == seen.Task, "the run did not start transactions within 60 s");
            Assert.Equal(0, Posix.Kill(p.Id, Posix.SIGINT));
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), "the run did not stop within 30 s of SIGINT");
            Assert.Equal(130, p.ExitCode);
            // What was measured before the interrupt is kept, and run.json says the run was cut short.
            Assert.True(File.Exists(Path.Combine(output, "transactions.csv")), "no transactions.csv after SIGINT");
            Assert.Contains("\"interrupted\": true", File.ReadAllText(Path.Combine(output, "run.json")));
            Assert.DoesNotContain(Namespaces(), n => n.Contains(pid, StringComparison.Ordinal));
            Assert.DoesNotContain(Processes(), cmd => cmd.Contains("__delay-line", StringComparison.Ordinal) && cmd.Contains(pid, StringComparison.Ordinal));
            Assert.DoesNotContain(NftTables(), t => t.Contains(pid, StringComparison.Ordinal));
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            Directory.Delete(output, recursive: true);
            LatencySmtp.Testbed.Testbed.RemoveStale();
        }
    }

    private static IEnumerable<string> Namespaces() =>
        LatencySmtp.Transport.Linux.HostCommand.Run("ip", ["netns", "list"]).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]);

    /// <summary>nft tables in the root namespace; the testbed's own live in its namespaces, which are gone with them.</summary>
    private static IEnumerable<string> NftTables() =>
        LatencySmtp.Transport.Linux.HostCommand.Run("nft", ["list", "tables"]).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static IEnumerable<string> Processes() =>
        Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "cmdline")).Where(File.Exists)
            .Select(f => { try { return File.ReadAllText(f).Replace('\0', ' '); } catch (IOException) { return ""; } });
}

internal static partial class Posix
{
    public const int SIGINT = 2;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
    public static partial int Kill(int pid, int signal);
}
