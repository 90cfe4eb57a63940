using LatencySmtp.Experiments.Results;
using LatencySmtp.Experiments.Running;
using LatencySmtp.Tests.Analysis;

namespace LatencySmtp.Tests.Experiments;

/// <summary>
/// The runner's join of client rows with the capture: trace_check is "ok" only when the client's accept_ms and the
/// trace's SYN → 250 agree within 1 ms. Synthetic captures: each connection is accepted 52.62 ms after its SYN.
/// </summary>
public sealed class TraceJoinTests : IDisposable
{
    private const string Client = "10.99.0.1";
    private const string Server = "10.99.0.2";
    private const ushort Port = 2529;
    private const decimal AcceptMs = 52.62m;

    private const string Message = "Subject: t\r\n\r\nHello.\r\n";

    private static readonly string Request = "XID client.test LatencySmtp/0.1.0 TXID=1\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@server.test>\r\n" +
                                             $"BDAT {Message.Length} LAST\r\n{Message}QUIT\r\n";

    private static string Replies(int code) => $"250 server.test\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n{code} 2.0.0 Ok\r\n221 2.0.0 Bye\r\n";

    private readonly string _directory = Directory.CreateTempSubdirectory("lsm-join-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>One greeting-less one-segment exchange per client port, 1 s apart; <paramref name="code"/> is the reply to BDAT LAST.</summary>
    private string Capture(IEnumerable<(ushort ClientPort, int Code)> connections)
    {
        var trace = new SyntheticTrace();
        var start = 0m;
        foreach (var (clientPort, code) in connections)
        {
            var c = trace.Connect(Client, clientPort, Server, Port, 1000u * clientPort, 7000u * clientPort);
            c.Syn(start, Request, fin: true, options: [11, 6, 0, 0, 0, 1]);
            c.SynAck(start + AcceptMs, Replies(code), fin: true);
            c.Client(start + AcceptMs + 0.05m);
            start += 1000m;
        }
        return trace.WriteNanosecondPcap(Path.Combine(_directory, "join.pcap"));
    }

    private static (TransactionRow, ushort, ushort, DateTime?) Row(ushort clientPort, double acceptMs, string outcome = "accepted", DateTime? started = null) =>
        (new TransactionRow("ttcp", 50, 23, 1, 0, clientPort, acceptMs, acceptMs / 50, null, null, outcome, 1, null, null, "missing", null),
            clientPort, Port, started);

    private IReadOnlyList<TransactionRow> Join(params (TransactionRow, ushort, ushort, DateTime?)[] rows)
    {
        var pcap = Capture(rows.Select(r => (r.Item2, r.Item1.Outcome == "rejected" ? 554 : 250)));
        return ExperimentRunner.JoinWithTrace(pcap, rows, TextWriter.Null);
    }

    [Fact]
    public void Client_and_trace_within_one_millisecond_are_ok_either_side()
    {
        var joined = Join(Row(30001, 52.62), Row(30002, 52.62 - 0.95), Row(30003, 52.62 + 0.95));

        Assert.All(joined, r => Assert.Equal("ok", r.TraceCheck));
        Assert.All(joined, r => Assert.Equal(52.62, r.TraceAcceptMs!.Value, 9));
        Assert.All(joined, r => Assert.Equal(3, r.Segments));
        Assert.All(joined, r => Assert.Equal(1, r.TraceClientWaits));
        Assert.All(joined, r => Assert.Equal(Request.Length + Replies(250).Length, r.Bytes));
    }

    [Fact]
    public void More_than_one_millisecond_apart_is_flagged_with_trace_minus_client()
    {
        var joined = Join(Row(30011, 51.42), Row(30012, 53.82), Row(30013, 60.02), Row(30014, 45.0));

        Assert.Equal(["differs-+1.2ms", "differs--1.2ms", "differs--7.4ms", "differs-+7.6ms"], joined.Select(r => r.TraceCheck));
        Assert.All(joined, r => Assert.NotEqual("ok", r.TraceCheck));
        Assert.All(joined, r => Assert.Equal(3, r.Segments));                 // the trace's figures are filled in anyway
    }

    [Fact]
    public void An_accept_seen_by_only_one_side_is_flagged_and_agreeing_failures_are_ok()
    {
        var failed = Row(30023, double.NaN, "rejected");
        var joined = Join(
            Row(30021, 52.62, "rejected"),                                     // the client says 250, the trace has 554
            (Row(30022, double.NaN, "timeout").Item1, 30022, Port, null),      // the client gave up, the trace has the 250
            failed);                                                           // both: no accept

        Assert.Equal(["no-accept-in-trace", "accept-only-in-trace", "ok"], joined.Select(r => r.TraceCheck));
        Assert.Null(joined[0].TraceAcceptMs);
        Assert.Equal(52.62, joined[1].TraceAcceptMs!.Value, 9);
    }

    [Fact]
    public void A_row_without_its_connection_in_the_capture_keeps_missing_and_no_trace_figures()
    {
        var pcap = Capture([(30031, 250)]);
        var joined = ExperimentRunner.JoinWithTrace(pcap, [Row(30031, 52.7), Row(30032, 52.7)], TextWriter.Null);

        Assert.Equal("ok", joined[0].TraceCheck);
        Assert.Equal("missing", joined[1].TraceCheck);
        Assert.Null(joined[1].Segments);
        Assert.Null(joined[1].TraceAcceptMs);
    }

    [Fact]
    public void An_unreadable_capture_leaves_every_row_as_it_was_and_says_so()
    {
        var junk = Path.Combine(_directory, "junk.pcap");
        File.WriteAllText(junk, "not a capture");
        var log = new StringWriter();
        var rows = new[] { Row(30041, 52.7) };

        var joined = ExperimentRunner.JoinWithTrace(junk, rows, log);

        Assert.Equal(rows.Select(r => r.Item1), joined);
        Assert.Contains("trace analysis failed", log.ToString());
    }

    [Fact]
    public void Disagreeing_rows_are_counted_in_the_log()
    {
        var log = new StringWriter();
        var rows = new[] { Row(30051, 52.62), Row(30052, 55.0) };
        ExperimentRunner.JoinWithTrace(Capture(rows.Select(r => (r.Item2, 250))), rows, log);
        Assert.Contains("1 of 2 transactions disagree with the trace", log.ToString());
    }

    /// <summary>
    /// A first-contact cell gives every transaction a fresh client host with a random first port, so a port can come
    /// back within one capture; each row must join the connection its client made, found by when it started (the
    /// reference run of first-contact once joined a 2-RTT row with a 1-RTT connection on the same port).
    /// </summary>
    private static readonly DateTime CaptureStart = DateTime.UnixEpoch.AddSeconds(SyntheticTrace.EpochSeconds);

    [Fact]
    public void A_port_used_twice_in_one_capture_joins_each_row_with_its_own_connection()
    {
        var trace = new SyntheticTrace();
        var first = trace.Connect(Client, 30061, Server, Port, 1000u, 7000u);     // 1 RTT, at t = 0 s
        first.Syn(0m, Request, fin: true, options: [11, 6, 0, 0, 0, 1]);
        first.SynAck(AcceptMs, Replies(250), fin: true);
        first.Client(AcceptMs + 0.05m);
        var again = trace.Connect(Client, 30061, Server, Port, 90_000u, 97_000u);  // the same port 2 s later, 102.9 ms to accept
        again.Syn(2000m, Request, fin: true, options: [11, 6, 0, 0, 0, 1]);
        again.SynAck(2000m + 102.9m, Replies(250), fin: true);
        again.Client(2000m + 102.95m);
        var pcap = trace.WriteNanosecondPcap(Path.Combine(_directory, "reuse.pcap"));

        var joined = ExperimentRunner.JoinWithTrace(pcap,
            [Row(30061, 52.62, started: CaptureStart), Row(30061, 102.9, started: CaptureStart.AddSeconds(2))], TextWriter.Null);

        Assert.Equal(["ok", "ok"], joined.Select(r => r.TraceCheck));
        Assert.Equal(52.62, joined[0].TraceAcceptMs!.Value, 6);
        Assert.Equal(102.9, joined[1].TraceAcceptMs!.Value, 6);
    }
}
