using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using LatencySmtp.Testbed.Analysis;
using Spectre.Console;

namespace LatencySmtp.Cli.Commands;

internal static class AnalyzeCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("pcap") { Description = "capture file (.pcap)" };
        var json = new Option<bool>("--json") { Description = "print JSON instead of a table" };
        var cmd = new Command("analyze", "Per SMTP transaction in a capture: segments, bytes, handshake RTT, client waits, SYN-to-accept time") { file, json };
        cmd.SetAction(pr => Endpoints.Guard(() =>
        {
            var path = pr.GetValue(file)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"no such capture: {path}");
            var traces = TraceAnalyzer.Analyze(path);
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(traces.Select(t => new
                {
                    client = $"{t.Flow.Client}:{t.Flow.ClientPort}",
                    server = $"{t.Flow.Server}:{t.Flow.ServerPort}",
                    variant = t.VariantGuess,
                    first_syn = t.FirstSyn,
                    handshake_rtt_ms = double.IsNaN(t.HandshakeRttMs) ? (double?)null : t.HandshakeRttMs,
                    segments_c2s = t.SegmentsClientToServer,
                    segments_s2c = t.SegmentsServerToClient,
                    bytes_c2s = t.PayloadBytesClientToServer,
                    bytes_s2c = t.PayloadBytesServerToClient,
                    client_waits = t.ClientWaits,
                    syn_to_accept_ms = t.SynToAcceptMs,
                }), new JsonSerializerOptions { WriteIndented = true }));
                return Task.FromResult(0);
            }
            var table = new Table().Border(TableBorder.Rounded);
            foreach (var c in new[] { "flow", "variant", "segs c>s", "segs s>c", "bytes c>s", "bytes s>c", "handshake ms", "client waits", "SYN->250 ms" })
                table.AddColumn(c);
            foreach (var t in traces)
                table.AddRow($"{t.Flow.Client}:{t.Flow.ClientPort} > {t.Flow.Server}:{t.Flow.ServerPort}", t.VariantGuess ?? "?",
                    I(t.SegmentsClientToServer), I(t.SegmentsServerToClient), I(t.PayloadBytesClientToServer), I(t.PayloadBytesServerToClient),
                    double.IsNaN(t.HandshakeRttMs) ? "-" : t.HandshakeRttMs.ToString("F2", CultureInfo.InvariantCulture),
                    I(t.ClientWaits), t.SynToAcceptMs?.ToString("F2", CultureInfo.InvariantCulture) ?? "-");
            Endpoints.WriteTable(table);
            Console.WriteLine($"{traces.Count} transaction(s)");
            return Task.FromResult(0);
        }));
        return cmd;
    }

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
}
