using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using LatencySmtp.Experiments.Results;
using LatencySmtp.Experiments.Running;
using LatencySmtp.Experiments.Specs;
using LatencySmtp.Testbed;
using ScottPlot;

namespace LatencySmtp.Experiments.Accuracy;

public sealed record AccuracySample(string Method, double OneWayDelayMs, double ConfiguredRttMs, int Sequence, double RttMs)
{
    public double ErrorMs => RttMs - ConfiguredRttMs;
}

/// <summary>One (method, delay) cell: the error is measured RTT minus configured RTT (2 × one-way delay).</summary>
public sealed record AccuracySummaryRow(string Method, double OneWayDelayMs, double ConfiguredRttMs, int N, int Lost, double MedianRttMs,
    double MedianErrorMs, double P99ErrorMs, double MaxErrorMs, double TargetMs, bool MeetsTarget);

public sealed record AccuracyOutcome(string OutputDirectory, IReadOnlyList<AccuracySummaryRow> Summary, IReadOnlyList<RateRow> Rate,
    bool TargetMet, string EmulatorBackend);

/// <summary>run.json of an accuracy run.</summary>
public sealed record AccuracyRunInfo
{
    public required string Experiment { get; init; }
    public string? SpecFile { get; init; }
    public required string CommandLine { get; init; }
    public required string How { get; init; }
    public required DateTimeOffset StartedUtc { get; init; }
    public DateTimeOffset EndedUtc { get; set; }
    public required int Seed { get; init; }
    public string EmulatorBackend { get; set; } = "none";
    public string? EmulatorEvidence { get; set; }
    public required MachineInfo Machine { get; init; }
    public required VersionInfo Versions { get; init; }
    public required AccuracySpec Spec { get; init; }
    public string Target { get; init; } = "median |measured RTT - configured RTT| <= max(0.2 ms, 1 % of the configured RTT), per method and delay";
    public bool TargetMet { get; set; }
    public double? SustainedPps { get; set; }
    public List<string> Notes { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public void Write(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");
}

/// <summary>
/// The emulator-accuracy experiment (issue 5): per one-way delay a fresh testbed, ICMP echo and TCP
/// handshake round trips against the configured RTT; then a UDP flood at increasing rates over one
/// more testbed for the rate the emulator carries without adding delay. Writes accuracy.csv,
/// summary.csv, rate.csv, accuracy.png and run.json.
/// </summary>
public sealed class AccuracyRunner(ExperimentSpec spec, string outputDirectory, TextWriter log)
{
    public const ushort HandshakePort = 7070;
    public const ushort FloodPort = 7071;
    private AccuracySpec Plan => spec.Accuracy ?? throw new ArgumentException($"spec {spec.Name} is not of kind {AccuracySpec.Kind}");

    public Task<AccuracyOutcome> RunAsync(IEnumerable<string> commandLine, CancellationToken cancel) =>
        Task.Factory.StartNew(() => Run(commandLine, cancel), cancel, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private AccuracyOutcome Run(IEnumerable<string> commandLine, CancellationToken cancel)
    {
        var plan = Plan;
        Directory.CreateDirectory(outputDirectory);
        bool realtime = Probes.PrepareThread();   // this thread sends the probes
        int removed = Testbed.Testbed.RemoveStale();
        if (removed > 0) log.WriteLine($"removed {removed} stale testbed(s) left by dead processes");
        string cmd = string.Join(' ', commandLine);
        var run = new AccuracyRunInfo
        {
            Experiment = spec.Name,
            SpecFile = spec.SourcePath,
            CommandLine = cmd,
            How = $"as root, from the repository root: dotnet build src/LatencySmtp.Cli -c Release && dotnet src/LatencySmtp.Cli/bin/Release/net10.0/latency-smtp.dll run {(spec.SourcePath is null ? "SPEC" : Path.GetRelativePath(Environment.CurrentDirectory, spec.SourcePath))} --out {outputDirectory}",
            StartedUtc = DateTimeOffset.UtcNow,
            Seed = spec.Seed,
            Machine = MachineInfo.Current(),
            Versions = VersionInfo.Current(),
            Spec = plan,
        };
        run.Notes.Add(realtime ? $"probe threads ran SCHED_FIFO {Probes.RealtimePriority}" : "probe threads could not get SCHED_FIFO: a busy machine inflates the errors");
        var samples = new List<AccuracySample>();
        foreach (double d in plan.OneWayDelayMs)
        {
            cancel.ThrowIfCancellationRequested();
            using var bed = CreateBed(d, run);
            double rtt = 2 * d;
            var replyTimeout = TimeSpan.FromMilliseconds(rtt + 1000);
            if (plan.PingCount > 0)
            {
                if (plan.Warmup > 0) Probes.IcmpEcho(bed.ClientNamespace, bed.ServerIPAddress, plan.Warmup, TimeSpan.FromMilliseconds(plan.PingIntervalMs), replyTimeout);
                var icmp = Probes.IcmpEcho(bed.ClientNamespace, bed.ServerIPAddress, plan.PingCount, TimeSpan.FromMilliseconds(plan.PingIntervalMs), replyTimeout);
                samples.AddRange(icmp.Select(s => new AccuracySample("icmp", d, rtt, s.Sequence, s.RttMs)));
                log.WriteLine($"  icmp: {Describe(icmp, rtt)}");
            }
            if (plan.Handshakes > 0)
            {
                var server = new IPEndPoint(bed.ServerIPAddress, HandshakePort);
                var gap = TimeSpan.FromMilliseconds(plan.HandshakeGapMs);
                var timeout = TimeSpan.FromMilliseconds(rtt + 3000);
                if (plan.Warmup > 0) Probes.TcpHandshakes(bed.ClientNamespace, bed.ServerNamespace, server, plan.Warmup, gap, timeout);
                var tcp = Probes.TcpHandshakes(bed.ClientNamespace, bed.ServerNamespace, server, plan.Handshakes, gap, timeout);
                samples.AddRange(tcp.Select(s => new AccuracySample("tcp-handshake", d, rtt, s.Sequence, s.RttMs)));
                log.WriteLine($"  tcp:  {Describe(tcp, rtt)}");
            }
            bed.Dispose();
            if (bed.DelayLineLog.Length > 0) run.Notes.Add($"delay {d:g} ms: {bed.DelayLineLog.ReplaceLineEndings(" | ")}");
        }

        var rate = new List<RateRow>();
        if (plan.RatePps.Count > 0)
        {
            using var bed = CreateBed(plan.RateOneWayDelayMs, run);
            var steps = new List<(double, long, double, long, List<double>)>();
            foreach (double pps in plan.RatePps.Order())
            {
                cancel.ThrowIfCancellationRequested();
                var (sent, sentPps, received, added) = UdpFlood.Run(bed.ClientNamespace, bed.ServerNamespace, bed.ServerIPAddress, FloodPort, pps,
                    TimeSpan.FromSeconds(plan.RateDurationSeconds), plan.RatePayloadBytes, TimeSpan.FromMilliseconds(plan.RateOneWayDelayMs));
                steps.Add((pps, sent, sentPps, received, added));
                log.WriteLine($"  flood {pps:g} pps: sent {sent} ({sentPps:F0} pps), received {received}, added median {Statistics.Median(added):F3} ms, p99 {Statistics.Percentile(added, 99):F3} ms");
                Thread.Sleep(200);
            }
            bed.Dispose();
            if (bed.DelayLineLog.Length > 0) run.Notes.Add($"rate testbed: {bed.DelayLineLog.ReplaceLineEndings(" | ")}");
            rate = UdpFlood.Summarise(steps, plan.RateAddedDelayToleranceMs, plan.RateP99ToleranceMs);
            // Sustained: the highest rate below which every step was sustained.
            run.SustainedPps = rate.TakeWhile(r => r.Sustained).Select(r => (double?)r.OfferedPps).LastOrDefault();
        }

        var summary = Summarise(samples);
        run.TargetMet = summary.Count > 0 && summary.All(r => r.MeetsTarget);
        run.EndedUtc = DateTimeOffset.UtcNow;
        WriteSamples(Path.Combine(outputDirectory, "accuracy.csv"), samples);
        WriteSummary(Path.Combine(outputDirectory, "summary.csv"), summary);
        WriteRate(Path.Combine(outputDirectory, "rate.csv"), rate);
        Chart(Path.Combine(outputDirectory, "accuracy.png"), summary, run.EmulatorBackend);
        if (rate.Count > 0) RateChart(Path.Combine(outputDirectory, "rate.png"), rate, plan.RateOneWayDelayMs, run.EmulatorBackend);
        run.Write(Path.Combine(outputDirectory, "run.json"));
        return new AccuracyOutcome(outputDirectory, summary, rate, run.TargetMet, run.EmulatorBackend);
    }

    /// <summary>
    /// 'plot' for an accuracy folder: redraws accuracy.png and rate.png from summary.csv and rate.csv as the
    /// run wrote them (the per-sample accuracy.csv is not needed; nothing is recomputed).
    /// </summary>
    public static IReadOnlyList<string> Redraw(string folder)
    {
        static double D(string v) => v.Length == 0 ? double.NaN : double.Parse(v, CultureInfo.InvariantCulture);
        var runJson = Path.Combine(folder, "run.json");
        using var run = JsonDocument.Parse(File.Exists(runJson) ? File.ReadAllText(runJson) : "{}");
        var backend = run.RootElement.TryGetProperty("emulator_backend", out var b) ? b.GetString() ?? "unknown" : "unknown";
        var rateDelay = run.RootElement.TryGetProperty("spec", out var sp) && sp.TryGetProperty("rate_one_way_delay_ms", out var rd) ? rd.GetDouble() : double.NaN;
        var summary = CsvFiles.ReadTable(Path.Combine(folder, "summary.csv")).Select(r => new AccuracySummaryRow(r["method"], D(r["one_way_delay_ms"]),
            D(r["configured_rtt_ms"]), int.Parse(r["n"], CultureInfo.InvariantCulture), int.Parse(r["lost"], CultureInfo.InvariantCulture), D(r["median_rtt_ms"]),
            D(r["median_error_ms"]), D(r["p99_error_ms"]), D(r["max_error_ms"]), D(r["target_ms"]), r["meets_target"] == "true")).ToList();
        var drawn = new List<string> { "accuracy.png" };
        Chart(Path.Combine(folder, "accuracy.png"), summary, backend);
        var ratePath = Path.Combine(folder, "rate.csv");
        var rate = File.Exists(ratePath)
            ? CsvFiles.ReadTable(ratePath).Select(r => new RateRow(D(r["offered_pps"]), long.Parse(r["sent"], CultureInfo.InvariantCulture), D(r["sent_pps"]),
                long.Parse(r["received"], CultureInfo.InvariantCulture), long.Parse(r["lost"], CultureInfo.InvariantCulture), D(r["median_added_ms"]),
                D(r["p99_added_ms"]), D(r["max_added_ms"]), r["sustained"] == "true")).ToList()
            : [];
        if (rate.Count > 0)
        {
            RateChart(Path.Combine(folder, "rate.png"), rate, rateDelay, backend);
            drawn.Add("rate.png");
        }
        return drawn;
    }

    private Testbed.Testbed CreateBed(double oneWayMs, AccuracyRunInfo run)
    {
        var oneWay = TimeSpan.FromMilliseconds(oneWayMs);
        var bed = Testbed.Testbed.Create(new TestbedOptions { DelayClientToServer = oneWay, DelayServerToClient = oneWay, Seed = spec.Seed });
        run.EmulatorBackend = run.EmulatorBackend == "none" || run.EmulatorBackend == bed.EmulatorBackend ? bed.EmulatorBackend : "mixed";
        run.EmulatorEvidence = bed.EmulatorEvidence;
        string compensation = bed.BaseRoundTrip is { } b
            ? $"zero-delay path RTT {b.TotalMilliseconds:F3} ms (ping median), frames released {bed.ForwardingCompensation.TotalMilliseconds:F3} ms early each way"
            : "no forwarding compensation";
        log.WriteLine($"testbed {bed.Name}: {oneWayMs:g} ms each way (RTT {2 * oneWayMs:g} ms), {bed.EmulatorBackend}, {compensation}");
        run.Notes.Add($"delay {oneWayMs:g} ms: testbed {bed.Name}, {bed.EmulatorBackend} ({bed.EmulatorEvidence}), {compensation}");
        return bed;
    }

    private static string Describe(IReadOnlyList<RttSample> samples, double rtt)
    {
        var ok = samples.Where(s => !double.IsNaN(s.RttMs)).Select(s => s.RttMs - rtt).ToList();
        return $"{ok.Count}/{samples.Count} answered, error median {Statistics.Median(ok):F3} ms, p99 {Statistics.Percentile(ok, 99):F3} ms";
    }

    public static List<AccuracySummaryRow> Summarise(IReadOnlyList<AccuracySample> samples) =>
        samples.GroupBy(s => (s.Method, s.OneWayDelayMs))
            .OrderBy(g => g.Key.Method, StringComparer.Ordinal).ThenBy(g => g.Key.OneWayDelayMs)
            .Select(g =>
            {
                double rtt = g.First().ConfiguredRttMs;
                var ok = g.Where(s => !double.IsNaN(s.RttMs)).ToList();
                var errors = ok.Select(s => s.ErrorMs).ToList();
                double median = Statistics.Median(errors), target = AccuracySpec.TargetMs(rtt);
                return new AccuracySummaryRow(g.Key.Method, g.Key.OneWayDelayMs, rtt, ok.Count, g.Count() - ok.Count,
                    Statistics.Median(ok.Select(s => s.RttMs).ToList()), median, Statistics.Percentile(errors, 99),
                    errors.Count > 0 ? errors.Max() : double.NaN, target, ok.Count > 0 && Math.Abs(median) <= target);
            })
            .ToList();

    private static string F(double v, int digits = 4) => double.IsNaN(v) ? "" : Math.Round(v, digits).ToString(CultureInfo.InvariantCulture);

    private static void WriteCsv(string path, string header, IEnumerable<string> lines)
    {
        var text = new StringBuilder(header).Append('\n');
        foreach (var line in lines) text.Append(line).Append('\n');
        File.WriteAllText(path, text.ToString());
    }

    private static void WriteSamples(string path, IEnumerable<AccuracySample> samples) =>
        WriteCsv(path, "method,one_way_delay_ms,configured_rtt_ms,seq,rtt_ms,error_ms",
            samples.Select(s => $"{s.Method},{F(s.OneWayDelayMs)},{F(s.ConfiguredRttMs)},{s.Sequence},{F(s.RttMs)},{F(s.ErrorMs)}"));

    private static void WriteSummary(string path, IEnumerable<AccuracySummaryRow> rows) =>
        WriteCsv(path, "method,one_way_delay_ms,configured_rtt_ms,n,lost,median_rtt_ms,median_error_ms,p99_error_ms,max_error_ms,target_ms,meets_target",
            rows.Select(r => $"{r.Method},{F(r.OneWayDelayMs)},{F(r.ConfiguredRttMs)},{r.N},{r.Lost},{F(r.MedianRttMs)},{F(r.MedianErrorMs)},{F(r.P99ErrorMs)},{F(r.MaxErrorMs)},{F(r.TargetMs)},{(r.MeetsTarget ? "true" : "false")}"));

    private static void WriteRate(string path, IEnumerable<RateRow> rows) =>
        WriteCsv(path, "offered_pps,sent,sent_pps,received,lost,median_added_ms,p99_added_ms,max_added_ms,sustained",
            rows.Select(r => $"{F(r.OfferedPps)},{r.Sent},{F(r.SentPps, 1)},{r.Received},{r.Lost},{F(r.MedianAddedMs)},{F(r.P99AddedMs)},{F(r.MaxAddedMs)},{(r.Sustained ? "true" : "false")}"));

    /// <summary>rate.png: added one-way delay (median, p99) against the offered packet rate, log-log-ish via log10 of the rate.</summary>
    private static void RateChart(string path, IReadOnlyList<RateRow> rate, double delayMs, string backend)
    {
        var plot = new Plot();
        double[] xs = rate.Select(r => Math.Log10(r.OfferedPps)).ToArray();
        var median = plot.Add.Scatter(xs, rate.Select(r => r.MedianAddedMs).ToArray());
        median.LegendText = "median added delay";
        median.Color = Colors.SteelBlue;
        var p99 = plot.Add.Scatter(xs, rate.Select(r => r.P99AddedMs).ToArray());
        p99.LegendText = "p99 added delay";
        p99.Color = Colors.DarkOrange;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            rate.Select(r => new Tick(Math.Log10(r.OfferedPps), r.OfferedPps.ToString("g", CultureInfo.InvariantCulture) + (r.Lost > 0 ? $"\nlost {r.Lost}" : ""))).ToArray());
        plot.Title($"Delay line under load ({backend}, {delayMs:g} ms one way): delay added beyond the configured");
        plot.XLabel("offered rate (packets/s, log scale)");
        plot.YLabel("added one-way delay (ms)");
        plot.Legend.Alignment = Alignment.UpperLeft;
        plot.ShowLegend();
        plot.SavePng(path, 900, 520);
    }

    /// <summary>accuracy.png: median and p99 error per method against the configured RTT, with the target.</summary>
    private static void Chart(string path, IReadOnlyList<AccuracySummaryRow> summary, string backend)
    {
        var plot = new Plot();
        var colors = new[] { Colors.SteelBlue, Colors.DarkOrange };
        int i = 0;
        foreach (var method in summary.GroupBy(r => r.Method))
        {
            var rows = method.OrderBy(r => r.ConfiguredRttMs).ToList();
            double[] xs = rows.Select(r => r.ConfiguredRttMs).ToArray();
            var median = plot.Add.Scatter(xs, rows.Select(r => r.MedianErrorMs).ToArray());
            median.Color = colors[i % colors.Length];
            median.LegendText = $"{method.Key}: median error";
            median.MarkerSize = 8;
            var p99 = plot.Add.Scatter(xs, rows.Select(r => r.P99ErrorMs).ToArray());
            p99.Color = colors[i % colors.Length].WithAlpha(0.5);
            p99.LinePattern = LinePattern.Dashed;
            p99.LegendText = $"{method.Key}: p99 error";
            i++;
        }
        var rtts = summary.Select(r => r.ConfiguredRttMs).Distinct().Order().ToArray();
        if (rtts.Length > 0)
        {
            var target = plot.Add.Scatter(rtts, rtts.Select(AccuracySpec.TargetMs).ToArray());
            target.Color = Colors.Red;
            target.LinePattern = LinePattern.Dotted;
            target.MarkerSize = 0;
            target.LegendText = "target for the median: max(0.2 ms, 1 %)";
        }
        plot.Title($"Link emulator accuracy ({backend}): measured RTT − configured RTT");
        plot.XLabel("configured RTT (ms)");
        plot.YLabel("error (ms)");
        plot.Legend.Alignment = Alignment.UpperLeft;
        plot.ShowLegend();
        plot.SavePng(path, 900, 520);
    }
}
