using LatencySmtp.Experiments.Results;
using LatencySmtp.Tests.Analysis;

namespace LatencySmtp.Tests.Experiments;

/// <summary>
/// Captured examples for paper-notes (`&lt;!-- capture: PCAP variant=V --&gt;`): a synthetic capture with a lock-step
/// classic transaction at 0 ms and a one-segment T/TCP exchange with CC.NEW and a cookie at 1 s.
/// </summary>
public sealed class CaptureExampleTests : IDisposable
{
    private const string Message = "Subject: t\r\n\r\nHello.\r\n";

    private static readonly string Request = "XID client.test LatencySmtp/0.1.0 TXID=7\r\nMAIL FROM:<a@client.test> SIZE=22\r\n" +
                                             $"RCPT TO:<b@server.test>\r\nBDAT {Message.Length} LAST\r\n{Message}QUIT\r\n";

    private const string Replies = "250 server.test LatencySmtp/0.1.0\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as Q7\r\n221 2.0.0 Bye\r\n";

    private readonly string _directory = Directory.CreateTempSubdirectory("lsm-example-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Capture()
    {
        var trace = new SyntheticTrace();
        var classic = trace.Connect("10.99.0.1", 40099, "10.99.0.2", 2525, 1000, 5000);
        classic.Syn(0).SynAck(50).Client(50.02m).Server(100.1m, "220 server.test ESMTP\r\n")
            .Client(100.12m, "EHLO client.test\r\n").Server(150.2m, "250 server.test\r\n")
            .Client(150.22m, "MAIL FROM:<a@client.test>\r\n").Server(200.3m, "250 2.1.0 Ok\r\n")
            .Client(200.32m, "RCPT TO:<b@server.test>\r\n").Server(250.4m, "250 2.1.5 Ok\r\n")
            .Client(250.42m, "DATA\r\n").Server(300.5m, "354 End data with <CR><LF>.<CR><LF>\r\n")
            .Client(300.52m, Message + ".\r\n").Server(352.6m, "250 2.0.0 Ok: queued as Q6\r\n")
            .Client(352.62m, "QUIT\r\n").Server(402.7m, "221 2.0.0 Bye\r\n", fin: true).Client(402.72m, fin: true).Server(452.8m);

        var ttcp = trace.Connect("10.99.0.1", 40100, "10.99.0.2", 2530, 100, 200);
        ttcp.Syn(1000, Request, fin: true, options: [2, 4, 5, 180, 1, 1, 12, 6, 0, 0, 0, 7, 34, 2]);             // MSS, CC.NEW, cookie request
        ttcp.SynAck(1052.62m, Replies, fin: true,
            options: [2, 4, 5, 180, 1, 1, 11, 6, 0, 0, 0, 9, 1, 1, 13, 6, 0, 0, 0, 7, 34, 6, 0xab, 0xcd, 0xef, 0x01]); // MSS, CC, CC.ECHO, cookie
        ttcp.Client(1052.67m);
        return trace.WriteNanosecondPcap(Path.Combine(_directory, "example.pcap"));
    }

    [Fact]
    public void A_ttcp_exchange_is_rendered_segment_by_segment_with_decoded_options_and_the_message_elided()
    {
        var text = PaperTables.ForCapture(Capture(), new Dictionary<string, string> { ["variant"] = "ttcp-cookie" });

        Assert.Equal($"""
            ```
            t=1.000000  10.99.0.1:40100 > 10.99.0.2:2530  [SYN, FIN, PSH]       seq=100         len={Request.Length}
                        options: MSS 1460, NOP NOP CC.NEW 7, TFO cookie request
                        XID client.test LatencySmtp/0.1.0 TXID=7
                        MAIL FROM:<a@client.test> SIZE=22
                        RCPT TO:<b@server.test>
                        BDAT 22 LAST
                        <22 octets: Subject: t ...>
                        QUIT
            t=1.052620  10.99.0.2:2530 > 10.99.0.1:40100  [SYN, ACK, FIN, PSH]  seq=200 ack={102 + Request.Length} len={Replies.Length}
                        options: MSS 1460, NOP NOP CC 9, NOP NOP CC.ECHO 7, TFO cookie abcdef01
                        250 server.test LatencySmtp/0.1.0
                        250 2.1.0 Ok
                        250 2.1.5 Ok
                        250 2.0.0 Ok: queued as Q7
                        221 2.0.0 Bye
            t=1.052670  10.99.0.1:40100 > 10.99.0.2:2530  [ACK]                 seq={102 + Request.Length} ack={202 + Replies.Length} len=0
            ```
            Analysis of this connection (`latency-smtp analyze`): variant ttcp-cookie, 3 segments (2 from the client, 1 from the server), payload {Request.Length} + {Replies.Length} octets, handshake RTT 52.6 ms, 1 client wait, SYN → 250 52.6 ms.

            """.ReplaceLineEndings("\n"), text);
    }

    [Fact]
    public void Data_content_is_elided_up_to_the_terminating_dot()
    {
        var text = PaperTables.ForCapture(Capture(), new Dictionary<string, string> { ["variant"] = "classic" });
        var lines = text.Split('\n').Select(l => l.Trim()).ToList();

        var data = lines.IndexOf("DATA");
        Assert.True(data > 0, text);
        var body = lines.FindIndex(data, l => l.StartsWith("t=", StringComparison.Ordinal) && l.Contains("40099 > ", StringComparison.Ordinal) && l.EndsWith($"len={Message.Length + 3}", StringComparison.Ordinal));
        Assert.True(body > data, text);
        Assert.Equal(["<22 octets: Subject: t ...>", "."], lines.Skip(body + 1).Take(2));
        Assert.StartsWith("t=0.352600  10.99.0.2:2525 > 10.99.0.1:40099  [ACK, PSH]", lines[body + 3]);
        Assert.Contains("t=0.000000  10.99.0.1:40099 > 10.99.0.2:2525  [SYN]", text);
        Assert.Contains("variant classic, 18 segments (9 from the client, 9 from the server)", text);
        Assert.Contains("7 client waits, SYN → 250 352.6 ms.", text);
    }

    [Fact]
    public void A_selector_no_connection_matches_or_an_unknown_selector_is_an_error()
    {
        var pcap = Capture();
        Assert.Throws<FormatException>(() => PaperTables.ForCapture(pcap, new Dictionary<string, string> { ["variant"] = "ttcp-cookie", ["waits"] = "2" }));
        Assert.Throws<FormatException>(() => PaperTables.ForCapture(pcap, new Dictionary<string, string> { ["port"] = "2530" }));
    }

    [Fact]
    public void Capture_markers_are_filled_like_tables_and_an_unclosed_one_is_an_error()
    {
        var pcap = Capture();
        var doc = $"before\n<!-- capture: {Path.GetFileName(pcap)} variant=ttcp-cookie waits=1 -->\nold text\n<!-- /capture -->\nafter\n";

        var updated = PaperTables.UpdateDocument(doc, _directory, out var tables, out var captures);

        Assert.Equal((0, 1), (tables, captures));
        var expected = PaperTables.ForCapture(pcap, new Dictionary<string, string> { ["variant"] = "ttcp-cookie", ["waits"] = "1" });
        Assert.Equal($"before\n<!-- capture: {Path.GetFileName(pcap)} variant=ttcp-cookie waits=1 -->\n{expected}<!-- /capture -->\nafter\n", updated);
        Assert.Equal(updated, PaperTables.UpdateDocument(updated, _directory, out _, out _));          // idempotent
        Assert.Throws<FormatException>(() => PaperTables.UpdateDocument($"<!-- capture: {Path.GetFileName(pcap)} variant=ttcp -->\nx\n", _directory, out _, out _));
    }
}
