using System.Diagnostics;
using System.Globalization;
using System.Net;
using LatencySmtp.Experiments.Charts;
using LatencySmtp.Experiments.Results;
using LatencySmtp.Experiments.Specs;
using LatencySmtp.Smtp;
using LatencySmtp.Testbed;
using LatencySmtp.Testbed.Analysis;
using LatencySmtp.Testbed.Capture;
using LatencySmtp.Transport;
using LatencySmtp.Transport.Delivery;
using LatencySmtp.Transport.Linux;
using LatencySmtp.Transport.Variants;

namespace LatencySmtp.Experiments.Running;

public sealed record ExperimentOutcome(string OutputDirectory, IReadOnlyList<TransactionRow> Transactions, IReadOnlyList<SummaryRow> Summary, RunInfo Run);

/// <summary>
/// Runs an experiment on a fresh namespace testbed per (RTT, loss) pair: servers in the server namespace, clients in
/// the client namespace, every packet captured on the client's interface. Variants are interleaved
/// within each repetition so that slow drifts of the machine hit all of them alike.
/// </summary>
public sealed class ExperimentRunner(ExperimentSpec spec, string outputDirectory, TextWriter log)
{
    public const string ClientHost = "client.lsm.test";
    public const string ServerHost = "mx.lsm.test";
    public static readonly string Software = $"LatencySmtp/{typeof(ExperimentRunner).Assembly.GetName().Version?.ToString(3) ?? "0.1.0"}";

    private readonly List<TransactionRow> _rows = [];
    private readonly Dictionary<(string, double, int, int, double, string), long> _delivered = [];
    private readonly Dictionary<(string, double, int, int, double, string), long> _duplicates = [];

    public async Task<ExperimentOutcome> RunAsync(IEnumerable<string> commandLine, CancellationToken cancel)
    {
        Preflight();
        var removed = Testbed.Testbed.RemoveStale();
        if (removed > 0) log.WriteLine($"removed {removed} stale testbed(s) left by dead processes");
        var work = Directory.CreateTempSubdirectory("latency-smtp-run-");
        var run = new RunInfo
        {
            Experiment = spec.Name,
            SpecFile = spec.SourcePath,
            CommandLine = string.Join(' ', commandLine),
            StartedUtc = DateTimeOffset.UtcNow,
            Seed = spec.Seed,
            EmulatorBackend = "none",
            Machine = MachineInfo.Current(),
            Versions = VersionInfo.Current(),
            Spec = spec,
        };
        var interrupted = false;
        try
        {
            foreach (var rtt in spec.RttMs)
                foreach (var loss in spec.Loss.Distinct())
                    await RunRttAsync(rtt, loss, work.FullName, run, cancel);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            interrupted = true;
            run.Notes.Add($"interrupted after {_rows.Count} transactions: the files hold what was measured until then");
            log.WriteLine($"interrupted: writing the {_rows.Count} transactions measured so far");
        }
        finally
        {
            try { work.Delete(recursive: true); } catch (IOException) { }
        }

        run.EndedUtc = DateTimeOffset.UtcNow;
        run.Transactions = _rows.Count;
        run.Accepted = _rows.Count(r => r.Outcome == "accepted");
        run.Delivered = _delivered.Values.Sum();
        var transactionsCsv = Path.Combine(outputDirectory, "transactions.csv");
        CsvFiles.WriteTransactions(transactionsCsv, _rows);
        // The summary is computed from the file as written (rounded to µs), so 'plot' recomputes it exactly.
        var summary = Statistics.Summarise(CsvFiles.ReadTransactions(transactionsCsv),
            r => _delivered.GetValueOrDefault((r.Variant, r.RttMs, r.SizeBytes, r.Recipients, r.Loss, r.Contact)),
            r => _duplicates.GetValueOrDefault((r.Variant, r.RttMs, r.SizeBytes, r.Recipients, r.Loss, r.Contact)));
        CsvFiles.WriteSummary(Path.Combine(outputDirectory, "summary.csv"), summary);
        LatencyChart.Write(outputDirectory, $"{spec.Name}: time to accept one message", summary);
        if (LossChart.Applies(summary)) LossChart.Write(outputDirectory, $"{spec.Name}: time to accept under loss", summary);
        run.Interrupted = interrupted;
        run.Write(Path.Combine(outputDirectory, "run.json"));
        if (interrupted) throw new OperationCanceledException("interrupted", cancel);
        return new ExperimentOutcome(outputDirectory, _rows, summary, run);
    }

    private async Task RunRttAsync(double rttMs, double loss, string work, RunInfo run, CancellationToken cancel)
    {
        var oneWay = TimeSpan.FromMilliseconds(rttMs / 2);
        using var bed = Testbed.Testbed.Create(new TestbedOptions
        {
            DelayClientToServer = oneWay,
            DelayServerToClient = oneWay,
            Loss = loss,   // each way: a transaction's segments in both directions meet it
            Seed = spec.Seed,
            RawServerPorts = spec.Variants.Where(v => v.IsRaw()).Select(v => v.DefaultPort()).ToList(),
        });
        log.WriteLine($"testbed: RTT {rttMs} ms ({bed.Options.ClientToServer} each way), {bed.EmulatorBackend}");
        run.EmulatorBackend = run.EmulatorBackend == "none" || run.EmulatorBackend == bed.EmulatorBackend ? bed.EmulatorBackend : "mixed";
        run.Notes.Add($"rtt {rttMs} ms, loss {loss:g}: testbed {bed.Name}, backend {bed.EmulatorBackend} ({bed.EmulatorEvidence}), forwarding compensation {bed.ForwardingCompensation.TotalMilliseconds:F3} ms each way");
        var smtp = new ServerOptions { HostName = ServerHost, Software = Software };
        await using var hosts = new Hosts(bed, Path.Combine(work, $"rtt{rttMs:g}-loss{loss:g}"), smtp, log);
        foreach (var v in spec.Variants.Distinct()) hosts.Start(v);
        await MeasureAsync(rttMs, loss, bed, hosts, run, cancel);
    }

    /// <summary>One server and one client per variant; restartable for first-contact transactions.</summary>
    private sealed class Hosts(Testbed.Testbed bed, string work, ServerOptions smtp, TextWriter log) : IAsyncDisposable
    {
        public readonly Dictionary<SmtpVariant, IVariantServer> Servers = [];
        public readonly Dictionary<SmtpVariant, IVariantClient> Clients = [];
        public readonly Dictionary<SmtpVariant, Maildir> Maildirs = [];

        public void Start(SmtpVariant v)
        {
            var endpoint = new IPEndPoint(bed.ServerIPAddress, v.DefaultPort());
            if (!Maildirs.TryGetValue(v, out var maildir)) Maildirs[v] = maildir = new Maildir(Path.Combine(work, v.Name()));
            Servers[v] = VariantFactory.StartServer(v, new ServerSetup(endpoint, bed.ServerNamespace, maildir, smtp,
                bed.ServerInterface, SilenceKernel: false, Log: log));
            Clients[v] = VariantFactory.CreateClient(v, new ClientSetup(endpoint, bed.ClientNamespace, bed.ClientInterface,
                bed.ClientIPAddress, SilenceKernel: false));
        }

        /// <summary>
        /// Fresh host state for a first contact: new client and server hosts (empty TAO and cookie caches, new
        /// cookie key), and the client kernel's tcp_metrics (where it caches TFO cookies) flushed.
        /// The Maildir and its transaction ledger stay.
        /// </summary>
        public async Task RestartAsync(SmtpVariant v)
        {
            Clients.Remove(v, out var c);
            c?.Dispose();
            if (Servers.Remove(v, out var s)) await s.DisposeAsync();
            if (!v.IsRaw()) HostCommand.TryRun("ip", ["-n", bed.ClientNamespace, "tcp_metrics", "flush", "all"]);
            Start(v);
        }

        public int MaildirCount(SmtpVariant v) => Directory.GetFiles(Maildirs[v].NewDirectory).Length;

        public async ValueTask DisposeAsync()
        {
            foreach (var c in Clients.Values) c.Dispose();
            foreach (var s in Servers.Values) await s.DisposeAsync();
        }
    }

    /// <summary>Round trips of the model: a first contact costs the accelerated opens one more (TAO/cookie not yet known).</summary>
    public static int ModelRoundTrips(SmtpVariant v, int recipients, Contact contact) =>
        contact == Contact.First && v is SmtpVariant.Tfo or SmtpVariant.Ttcp or SmtpVariant.TtcpCookie ? 2 : v.ModelRoundTrips(recipients);

    private async Task MeasureAsync(double rttMs, double lossOfThisBed, Testbed.Testbed bed, Hosts hosts, RunInfo run, CancellationToken cancel)
    {
        var pcapName = lossOfThisBed > 0 ? $"capture-rtt{rttMs:g}-loss{lossOfThisBed:g}.pcap" : $"capture-rtt{rttMs:g}.pcap";
        var pcap = Path.Combine(outputDirectory, pcapName);
        var rows = new List<(TransactionRow Row, ushort Port, ushort ServerPort, DateTime? Started)>();
        var interrupted = false;
        using (var capture = PacketCapture.Start(bed.ClientNamespace, bed.ClientInterface, pcap, "tcp"))
        {
            // First-contact cells come before repeat cells (Contact order): a repeat then follows a contact.
            var cells = (from size in spec.SizeBytes from rcpt in spec.Recipients from loss in spec.Loss.Distinct() where loss == lossOfThisBed
                         from contact in spec.Contact from v in spec.Variants select (v, size, rcpt, loss, contact)).ToList();
            var total = spec.Repetitions * cells.Count;
            var done = 0;
            var clock = Stopwatch.StartNew();
            // Warm-up transactions are run and not recorded: the first transaction of a process measures
            // JIT compilation, not round trips. They also warm the TAO cache of repeat cells; a first-contact
            // transaction restarts its hosts anyway, so no warm-up state reaches it.
            try
            {
                for (var w = 0; w < spec.Warmup; w++)
                    foreach (var (variant, size, recipients, _, contact) in cells)
                    {
                        if (contact == Contact.First) await hosts.RestartAsync(variant);
                        var result = await SendAsync(hosts.Clients[variant], size, recipients, rttMs, -1 - w, $"w{w}{contact.Name()[0]}", cancel);
                        log.WriteLine($"  warm-up {variant.Name()} {contact.Name()}: {Describe(result)} (not recorded)");
                        run.Notes.Add($"rtt {rttMs} ms: warm-up {variant.Name()} {contact.Name()} {Describe(result)}");
                        if (spec.GapMs > 0) await Task.Delay(TimeSpan.FromMilliseconds(spec.GapMs), cancel);
                    }
                for (var rep = 0; rep < spec.Repetitions; rep++)
                {
                    var line = new List<string>();
                    foreach (var (variant, size, recipients, loss, contact) in cells)
                    {
                        cancel.ThrowIfCancellationRequested();
                        if (contact == Contact.First) await hosts.RestartAsync(variant);
                        var server = hosts.Servers[variant];
                        var (files, duplicates) = (hosts.MaildirCount(variant), server.Duplicates);
                        var started = DateTime.UtcNow;   // tells this connection from an earlier one on the same port in the capture
                        var result = await SendAsync(hosts.Clients[variant], size, recipients, rttMs, rep, $"{done:x}", cancel);
                        var key = (variant.Name(), rttMs, size, recipients, loss, contact.Name());
                        // Delivered is counted in the Maildir itself: the files that appeared in new/.
                        _delivered[key] = _delivered.GetValueOrDefault(key) + hosts.MaildirCount(variant) - files;
                        _duplicates[key] = _duplicates.GetValueOrDefault(key) + server.Duplicates - duplicates;
                        rows.Add((new TransactionRow(variant.Name(), rttMs, size, recipients, loss, rep, result.AcceptMs,
                            rttMs > 0 ? result.AcceptMs / rttMs : double.NaN, null, null, result.OutcomeLabel, ModelRoundTrips(variant, recipients, contact),
                            null, null, "missing", result.Error, contact.Name()), result.LocalPort, variant.DefaultPort(), started));
                        line.Add($"{variant.Name()}{(spec.Contact.Count > 1 ? "/" + contact.Name() : "")} {Describe(result)}");
                        done++;
                        if (spec.GapMs > 0) await Task.Delay(TimeSpan.FromMilliseconds(spec.GapMs), cancel);
                    }
                    log.WriteLine($"  [{done}/{total}, {clock.Elapsed.TotalSeconds:F0} s] rep {rep + 1}: {string.Join(", ", line)}");
                }
                // Let the last closing segments reach the capture before it stops.
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(200, 2 * rttMs)), cancel);
            }
            catch (OperationCanceledException)
            {
                // Interrupted: keep what was measured, then let the cancellation unwind the testbed.
                interrupted = true;
            }
            capture.Stop();
            log.WriteLine($"  captured {capture.PacketCount} packets to {pcapName}");
        }
        run.Captures.Add(pcapName);
        _rows.AddRange(JoinWithTrace(pcap, rows, log));
        if (interrupted) throw new OperationCanceledException("interrupted", cancel);
    }

    /// <summary>What would fail only after a testbed was built, checked before: message sizes, the output folder.</summary>
    private void Preflight()
    {
        foreach (var recipients in spec.Recipients)
        {
            // The test message cannot be smaller than its own headers; it would be sent larger than size_bytes says.
            // The longest seed and subject give the longest headers.
            foreach (var size in spec.SizeBytes)
                if (MessageFactory.Create(size, int.MinValue, "sender@example.org", Recipients(recipients), Subject(spec.Repetitions + spec.Warmup)).Length is var made && made > size)
                    throw new ExperimentSpecException($"'size_bytes' {size} is below the test message's own headers and body (at least {made} octets with {recipients} recipient(s))");
        }
        Directory.CreateDirectory(outputDirectory);
        var probe = Path.Combine(outputDirectory, $".write-test-{Environment.ProcessId}");
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write results to {outputDirectory}: {e.Message}", e);
        }
    }

    private static List<string> Recipients(int count) => Enumerable.Range(1, count).Select(i => $"rcpt{i}@example.net").ToList();

    private string Subject(int rep) => $"{spec.Name} rep {rep}";

    private Task<TransactionResult> SendAsync(IVariantClient client, int size, int recipients, double rttMs, int rep, string tag, CancellationToken cancel)
    {
        var to = Recipients(recipients);
        var message = MessageFactory.Create(size, HashCode.Combine(spec.Seed, rep, size), "sender@example.org", to, Subject(rep));
        var identity = new ClientIdentity(ClientHost, Software, $"{spec.Seed:x}-{rttMs:g}-{tag}");
        return client.SendAsync(identity, new MailRequest("sender@example.org", to, message), TimeSpan.FromSeconds(spec.TimeoutSeconds), cancel);
    }

    private static string Describe(TransactionResult r) =>
        r.Accepted ? $"{r.AcceptMs:F1} ms" : r.OutcomeLabel + (r.Error is null ? "" : $" ({r.Error})");

    /// <summary>Largest difference between the trace's SYN → 250 and the client's accept_ms that still counts as agreement.</summary>
    public const double TraceToleranceMs = 1.0;

    /// <summary>
    /// Fills segments/bytes from the capture and flags rows where the trace and the client disagree by more than
    /// <see cref="TraceToleranceMs"/>: <c>trace_check</c> is "ok", "differs-±X.Xms" (trace minus client),
    /// "no-accept-in-trace", "accept-only-in-trace", or stays as given ("missing") when no connection from the
    /// row's client port to its server port is in the capture. A row is matched with the last such connection.
    /// </summary>
    /// <param name="rows">each row with its client and server port and, where known, when the client started it: a port can
    /// come back within one capture (first-contact cells give every transaction a fresh client host, whose first port is
    /// random), and the connection whose SYN is nearest that time is the row's; without a time, the last on the port</param>
    internal static IReadOnlyList<TransactionRow> JoinWithTrace(string pcap, IReadOnlyList<(TransactionRow Row, ushort Port, ushort ServerPort, DateTime? Started)> rows, TextWriter log)
    {
        IReadOnlyList<TransactionTrace> traces;
        try
        {
            traces = TraceAnalyzer.Analyze(pcap);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or FormatException)
        {
            log.WriteLine($"  trace analysis failed: {e.Message}");
            return rows.Select(r => r.Row).ToList();
        }
        var byFlow = traces.GroupBy(t => (t.Flow.ClientPort, t.Flow.ServerPort)).ToDictionary(g => g.Key, g => g.ToList());
        var joined = new List<TransactionRow>();
        foreach (var (row, port, serverPort, started) in rows)
        {
            if (!byFlow.TryGetValue((port, serverPort), out var onPort))
            {
                joined.Add(row);
                continue;
            }
            var t = started is { } at ? onPort.MinBy(c => Math.Abs((c.FirstSyn - at).Ticks))! : onPort[^1];
            var check = (t.SynToAcceptMs, double.IsNaN(row.AcceptMs)) switch
            {
                (null, true) => "ok",
                (null, false) => "no-accept-in-trace",
                ({ }, true) => "accept-only-in-trace",
                ({ } ms, false) when Math.Abs(ms - row.AcceptMs) <= TraceToleranceMs => "ok",
                ({ } ms, false) => string.Create(CultureInfo.InvariantCulture, $"differs-{ms - row.AcceptMs:+0.0;-0.0}ms"),
            };
            joined.Add(row with
            {
                Segments = t.SegmentsClientToServer + t.SegmentsServerToClient,
                Bytes = t.PayloadBytesClientToServer + t.PayloadBytesServerToClient,
                TraceAcceptMs = t.SynToAcceptMs,
                TraceClientWaits = t.ClientWaits,
                TraceCheck = check,
            });
        }
        var flagged = joined.Count(r => r.TraceCheck != "ok");
        if (flagged > 0) log.WriteLine($"  {flagged} of {joined.Count} transactions disagree with the trace (see trace_check)");
        return joined;
    }
}
