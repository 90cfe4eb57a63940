using System.Net;
using LatencySmtp.Testbed.Analysis;

namespace LatencySmtp.Tests.Analysis;

/// <summary>
/// Synthetic traces with a 50 ms round trip (25 ms each way) and exact timestamps. The server answers each
/// client segment R + 0.1 ms later as seen at the client-side capture point; the client reacts 0.02 ms after a reply.
/// </summary>
public sealed class TraceAnalyzerTests : IDisposable
{
    private const decimal Rtt = 50m;
    private const decimal Think = 0.02m;         // client reaction time
    private const decimal Answer = Rtt + 0.1m;   // client send -> server reply at the capture point

    private const string Client = "10.99.0.1";
    private const string Server = "10.99.0.2";

    private readonly string _directory = Directory.CreateTempSubdirectory("lsm-analysis-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathFor(string name) => Path.Combine(_directory, name);

    private static string Ehlo => "EHLO client.test\r\n";
    private static string EhloReply => "250-server.test\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SIZE 10485760\r\n";
    private static string Mail => "MAIL FROM:<alice@client.test>\r\n";
    private static string Rcpt(int i) => $"RCPT TO:<bob{i}@server.test>\r\n";
    private static string Body => "Subject: t\r\n\r\nHello.\r\n.\r\n";
    private static string Message => "Subject: t\r\n\r\nHello.\r\n";   // 23 octets, for BDAT

    /// <summary>
    /// Classic lock-step (RFC 5321): every command waits for the previous reply. Returns the accept time.
    /// Segments: client SYN, ACK, EHLO, MAIL, n x RCPT, DATA, body, QUIT, ACK, FIN;
    /// server SYN-ACK, 220, EHLO reply, 250, n x 250, 354, pure ACK, 250 queued, 221, FIN, ACK.
    /// </summary>
    private static decimal Classic(SyntheticTrace.Conversation c, int recipients, decimal start = 0)
    {
        var now = start;
        c.Syn(now).SynAck(now += Rtt).Client(now += Think);
        c.Server(now += Answer, "220 server.test ESMTP\r\n");
        c.Client(now += Think, Ehlo).Server(now += Answer, EhloReply);
        c.Client(now += Think, Mail).Server(now += Answer, "250 2.1.0 Ok\r\n");
        for (var i = 0; i < recipients; i++)
            c.Client(now += Think, Rcpt(i)).Server(now += Answer, "250 2.1.5 Ok\r\n");
        c.Client(now += Think, "DATA\r\n").Server(now += Answer, "354 End data with <CR><LF>.<CR><LF>\r\n");
        var bodySent = now += Think;
        c.Client(bodySent, Body);
        c.Server(bodySent + Rtt, "");                                   // delayed ACK: no reply bytes, no flight
        var accept = bodySent + Rtt + 2m;                               // 2 ms to fsync the message
        c.Server(accept, "250 2.0.0 Ok: queued as ABC\r\n");
        now = accept;
        c.Client(now += Think, "QUIT\r\n").Server(now += Answer, "221 2.0.0 Bye\r\n").Server(now += 0.01m, fin: true);
        c.Client(now += Think).Client(now += 0.01m, fin: true).Server(now += Rtt);
        return accept;
    }

    [Fact]
    public void Classic_with_one_recipient_waits_seven_round_trips()
    {
        var trace = new SyntheticTrace();
        var c = trace.Connect(Client, 40000, Server, 25, 1000, 5000);
        var accept = Classic(c, recipients: 1);

        var result = Assert.Single(TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("classic1.pcap"))));

        Assert.Equal(new FlowKey(IPAddress.Parse(Client), 40000, IPAddress.Parse(Server), 25), result.Flow);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(SyntheticTrace.EpochSeconds), result.FirstSyn);
        Assert.Equal(50.0, result.HandshakeRttMs, 9);
        Assert.Equal(10, result.SegmentsClientToServer);
        Assert.Equal(11, result.SegmentsServerToClient);
        Assert.Equal((c.ClientSegments, c.ServerSegments), (result.SegmentsClientToServer, result.SegmentsServerToClient));
        Assert.Equal(Ehlo.Length + Mail.Length + Rcpt(0).Length + 6 + Body.Length + 6, result.PayloadBytesClientToServer);
        Assert.Equal(c.ServerBytes, result.PayloadBytesServerToClient);
        Assert.Equal(7, result.ClientWaits);                            // n + 6
        Assert.Equal((double)accept, result.SynToAcceptMs!.Value, 9);
        Assert.Equal(352.62, (double)accept, 9);                        // SYN-ACK 50, then 5 x (50.1 + 0.02), then 50 + 2 ms fsync
        Assert.Equal("classic", result.VariantGuess);
    }

    [Fact]
    public void Classic_with_three_recipients_waits_nine_round_trips()
    {
        var trace = new SyntheticTrace();
        var c = trace.Connect(Client, 40001, Server, 25, 0xfffffff0, 0xffffff00);   // sequence numbers wrap
        var accept = Classic(c, recipients: 3);

        var result = Assert.Single(TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("classic3.pcap"))));

        Assert.Equal(12, result.SegmentsClientToServer);
        Assert.Equal(13, result.SegmentsServerToClient);
        Assert.Equal(c.ClientBytes, result.PayloadBytesClientToServer);
        Assert.Equal(c.ServerBytes, result.PayloadBytesServerToClient);
        Assert.Equal(9, result.ClientWaits);
        Assert.Equal((double)accept, result.SynToAcceptMs!.Value, 9);
        Assert.Equal("classic", result.VariantGuess);
    }

    [Fact]
    public void Pipelined_data_waits_five_and_pipelined_bdat_last_waits_four()
    {
        var trace = new SyntheticTrace();

        // RFC 2920 with DATA: MAIL+RCPT+DATA in one segment, the three replies in one, then the body.
        var d = trace.Connect(Client, 40002, Server, 25, 7, 9);
        decimal now = 0;
        d.Syn(now).SynAck(now += Rtt).Client(now += Think);
        d.Server(now += Answer, "220 server.test ESMTP\r\n");
        d.Client(now += Think, Ehlo).Server(now += Answer, EhloReply);
        d.Client(now += Think, Mail + Rcpt(0) + "DATA\r\n");
        d.Server(now += Answer, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n");
        d.Client(now += Think, Body);
        var dataAccept = now += Answer;
        d.Server(dataAccept, "250 2.0.0 Ok: queued\r\n");

        // RFC 2920 + RFC 3030: MAIL+RCPT+BDAT LAST+message in one segment; replies arrive in two segments.
        var b = trace.Connect(Client, 40003, Server, 25, 70, 90);
        now = 1000;
        b.Syn(now).SynAck(now += Rtt).Client(now += Think);
        b.Server(now += Answer, "220 server.test ESMTP\r\n");
        b.Client(now += Think, Ehlo).Server(now += Answer, EhloReply);
        b.Client(now += Think, Mail + Rcpt(0) + $"BDAT {Message.Length} LAST\r\n" + Message + "QUIT\r\n");
        b.Server(now += Answer, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
        var bdatAccept = now += 3m;                                      // the server stored the message
        b.Server(bdatAccept, "250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n");

        var results = TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("pipelined.pcap")));

        Assert.Equal(2, results.Count);
        Assert.Equal(40002, results[0].Flow.ClientPort);               // ordered by first SYN
        Assert.Equal(5, results[0].ClientWaits);
        Assert.Equal((double)dataAccept, results[0].SynToAcceptMs!.Value, 9);
        Assert.Equal("pipelined", results[0].VariantGuess);
        Assert.Equal(40003, results[1].Flow.ClientPort);
        Assert.Equal(4, results[1].ClientWaits);
        Assert.Equal((double)(bdatAccept - 1000), results[1].SynToAcceptMs!.Value, 9);
        Assert.Equal("pipelined", results[1].VariantGuess);
        Assert.Equal(b.ClientBytes, results[1].PayloadBytesClientToServer);
    }

    private static string GreetinglessRequest(bool quit = true) =>
        "XID client.test LatencySmtp/0.1.0 TXID=1\r\n" + Mail + Rcpt(0) + $"BDAT {Message.Length} LAST\r\n" + Message + (quit ? "QUIT\r\n" : "");

    private const string GreetinglessReplies =
        "250 server.test LatencySmtp/0.1.0\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as Q1\r\n221 2.0.0 Bye\r\n";

    private static readonly byte[] CcOption = [11, 6, 0, 0, 0, 42];                                 // RFC 1644 CC
    private static readonly byte[] FastOpenCookie = [34, 10, 1, 2, 3, 4, 5, 6, 7, 8];                // RFC 7413

    [Fact]
    public void One_segment_ttcp_exchange_waits_one_round_trip()
    {
        var trace = new SyntheticTrace();
        var c = trace.Connect(Client, 40004, Server, 2525, 100, 200);
        var request = GreetinglessRequest();
        c.Syn(0, request, fin: true, options: CcOption);
        c.SynAck(Rtt + 0.3m, GreetinglessReplies, fin: true, options: [13, 6, 0, 0, 0, 42]);  // CC.ECHO
        c.Client(Rtt + 0.3m + Think);

        var result = Assert.Single(TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("ttcp.pcap"))));

        Assert.Equal(2, result.SegmentsClientToServer);
        Assert.Equal(1, result.SegmentsServerToClient);
        Assert.Equal(request.Length, result.PayloadBytesClientToServer);
        Assert.Equal(GreetinglessReplies.Length, result.PayloadBytesServerToClient);
        Assert.Equal(50.3, result.HandshakeRttMs, 9);
        Assert.Equal(1, result.ClientWaits);
        Assert.Equal(50.3, result.SynToAcceptMs!.Value, 9);
        Assert.Equal("ttcp", result.VariantGuess);
    }

    [Fact]
    public void Ttcp_whose_tao_test_fails_waits_two_round_trips()
    {
        var trace = new SyntheticTrace();
        var c = trace.Connect(Client, 40005, Server, 2525, 100, 200);
        c.Syn(0, GreetinglessRequest(), fin: true, options: [.. CcOption, .. FastOpenCookie]);
        c.SynAck(Rtt, acceptSynData: false);                         // TAO test failed: only the SYN is acknowledged,
                                                                     // the data waits for the handshake (RFC 1644)
        c.Client(Rtt + Think);
        c.Server(Rtt + Think + Answer, GreetinglessReplies, fin: true);

        var result = Assert.Single(TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("ttcp-tao-fail.pcap"))));

        Assert.Equal(2, result.ClientWaits);
        Assert.Equal((double)(Rtt + Think + Answer), result.SynToAcceptMs!.Value, 9);
        Assert.Equal("ttcp-cookie", result.VariantGuess);
    }

    [Fact]
    public void Tfo_with_cookie_waits_one_round_trip_even_when_the_reply_follows_the_handshake_ack()
    {
        var trace = new SyntheticTrace();
        var c = trace.Connect(Client, 40006, Server, 25, 100, 200);
        c.Syn(0, GreetinglessRequest(), options: FastOpenCookie);
        c.SynAck(Rtt);                                               // acknowledges the SYN's data but carries none ...
        c.Client(Rtt + Think);                                       // ... the client ACKs at once: no trigger ...
        c.Server(Rtt + 0.2m, GreetinglessReplies[..60]);             // ... and the replies follow, split in two
        c.Server(Rtt + 30m, GreetinglessReplies[60..]);           // storing took 30 ms: more than RTT / 2

        var result = Assert.Single(TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("tfo.pcap"))));

        Assert.Equal(1, result.ClientWaits);
        Assert.Equal((double)(Rtt + 30m), result.SynToAcceptMs!.Value, 9);  // "250 ... queued" lies in the second part
        Assert.Equal("tfo", result.VariantGuess);
    }

    [Fact]
    public void Early_pipe_after_a_kernel_handshake_waits_two_round_trips()
    {
        var trace = new SyntheticTrace();
        var c = trace.Connect(Client, 40007, Server, 25, 100, 200);
        var request = GreetinglessRequest();
        c.Syn(0).SynAck(Rtt).Client(Rtt + Think).Client(Rtt + Think, request);
        c.Server(Rtt + Think + Rtt, "");                              // pure ACK
        c.Server(Rtt + Think + Answer, GreetinglessReplies[..70]);
        c.Server(Rtt + Think + Answer + 4m, GreetinglessReplies[70..]);

        var result = Assert.Single(TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("early-pipe.pcap"))));

        Assert.Equal(3, result.SegmentsClientToServer);
        Assert.Equal(4, result.SegmentsServerToClient);
        Assert.Equal(request.Length, result.PayloadBytesClientToServer);
        Assert.Equal(2, result.ClientWaits);
        Assert.Equal((double)(Rtt + Think + Answer + 4m), result.SynToAcceptMs!.Value, 9);
        Assert.Equal("early-pipe", result.VariantGuess);
    }

    [Fact]
    public void Early_pipe_request_split_by_nagle_costs_a_third_flight()
    {
        var trace = new SyntheticTrace();
        var c = trace.Connect(Client, 40014, Server, 25, 100, 200);
        var request = GreetinglessRequest();
        var xid = request[..(request.IndexOf('\n') + 1)];
        decimal now = 0;
        c.Syn(now).SynAck(now += Rtt).Client(now += Think).Client(now, xid);
        c.Server(now += Answer, "250 server.test ");                  // the ACK that releases the rest ...
        c.Client(now += Think, request[xid.Length..]);                 // ... which Nagle held back
        c.Server(now + 0.16m, "LatencySmtp/0.1.0\r\n");              // tail of the XID reply, right after: same flight
        var accept = now += Answer;
        c.Server(accept, GreetinglessReplies[35..]);

        var result = Assert.Single(TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("nagle.pcap"))));

        Assert.Equal(3, result.ClientWaits);
        Assert.Equal((double)accept, result.SynToAcceptMs!.Value, 9);
        Assert.Equal("early-pipe", result.VariantGuess);
    }

    [Fact]
    public void A_command_sent_just_before_a_flight_arrives_is_answered_by_the_next_flight()
    {
        var trace = new SyntheticTrace();
        var c = trace.Connect(Client, 40015, Server, 25, 100, 200);
        var request = GreetinglessRequest();
        var xid = request[..(request.IndexOf('\n') + 1)];
        decimal now = 0;
        c.Syn(now).SynAck(now += Rtt).Client(now += Think, xid);
        var xidReply = now + Answer;
        c.Client(xidReply - 0.02m, request[xid.Length..]);           // the rest, 0.02 ms before the XID reply arrives
        c.Server(xidReply, GreetinglessReplies[..35]);
        var accept = xidReply - 0.02m + Answer;
        c.Server(accept, GreetinglessReplies[35..]);

        var result = Assert.Single(TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("straddle.pcap"))));

        // SYN-ACK; XID reply (answers the XID line, too early for the rest); the replies to the rest.
        Assert.Equal(3, result.ClientWaits);
        Assert.Equal((double)accept, result.SynToAcceptMs!.Value, 9);
    }

    [Fact]
    public void Retransmissions_count_as_segments_and_bytes_but_not_as_waits_or_dialogue()
    {
        var trace = new SyntheticTrace();
        var c = trace.Connect(Client, 40008, Server, 25, 100, 200);
        decimal now = 0;
        c.Syn(now);
        c.Syn(now += 1000m);                                         // first SYN lost beyond the capture point: RTO 1 s
        c.SynAck(now += Rtt).Client(now += Think);
        c.Server(now += Answer, "220 server.test ESMTP\r\n");
        c.ServerRetransmit(now += 0.5m, "220 server.test ESMTP\r\n");  // spurious duplicate
        c.Client(now += Think, Ehlo).Server(now += Answer, EhloReply);
        c.Client(now += Think, Mail).Server(now += Answer, "250 2.1.0 Ok\r\n");
        c.Client(now += Think, Rcpt(0));
        c.ClientRetransmit(now += 200m, Rcpt(0));                      // RCPT lost: retransmitted after 200 ms
        c.Server(now += Answer, "250 2.1.5 Ok\r\n");
        c.Client(now += Think, "DATA\r\n").Server(now += Answer, "354 go ahead\r\n");
        c.Client(now += Think, Body);
        var accept = now += Answer;
        c.Server(accept, "250 2.0.0 Ok: queued\r\n");

        var result = Assert.Single(TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("retransmit.pcap"))));

        Assert.Equal(DateTime.UnixEpoch.AddSeconds(SyntheticTrace.EpochSeconds), result.FirstSyn);
        Assert.Equal(50.0, result.HandshakeRttMs, 9);                // from the retransmitted SYN
        Assert.Equal(c.ClientSegments, result.SegmentsClientToServer);
        Assert.Equal(9, result.SegmentsClientToServer);
        Assert.Equal(c.ClientBytes, result.PayloadBytesClientToServer);
        Assert.Equal(Ehlo.Length + Mail.Length + 2 * Rcpt(0).Length + 6 + Body.Length, result.PayloadBytesClientToServer);
        Assert.Equal(c.ServerBytes, result.PayloadBytesServerToClient);
        Assert.Equal(7, result.ClientWaits);
        Assert.Equal((double)accept, result.SynToAcceptMs!.Value, 9);
        Assert.Equal("classic", result.VariantGuess);
    }

    [Fact]
    public void Reordered_server_segments_are_reassembled_and_the_reply_counts_when_complete()
    {
        var trace = new SyntheticTrace();
        var c = trace.Connect(Client, 40009, Server, 25, 100, 200);
        var request = GreetinglessRequest(quit: false);
        c.Syn(0).SynAck(Rtt).Client(Rtt + Think).Client(Rtt + Think, request);
        const string replies = "250 server.test LatencySmtp/0.1.0\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as Q1\r\n";
        var t = Rtt + Think + Answer;
        c.ServerAt(t, 40, replies[40..]);                             // second half first
        c.ServerAt(t + 0.5m, 0, replies[..40]);                       // the gap fills: now the client holds the 250
        c.AdvanceServer(replies.Length);
        c.Client(t + 0.6m, "QUIT\r\n");

        var result = Assert.Single(TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("reorder.pcap"))));

        Assert.Equal(2, result.ClientWaits);
        Assert.Equal((double)(t + 0.5m), result.SynToAcceptMs!.Value, 9);
        Assert.Equal(replies.Length, result.PayloadBytesServerToClient);
        Assert.Equal("early-pipe", result.VariantGuess);
    }

    [Fact]
    public void A_rejected_message_has_no_accept_time_but_its_deciding_reply_ends_the_wait_count()
    {
        var trace = new SyntheticTrace();
        var c = trace.Connect(Client, 40010, Server, 25, 100, 200);
        c.Syn(0).SynAck(Rtt).Client(Rtt + Think).Client(Rtt + Think, GreetinglessRequest());
        c.Server(Rtt + Think + Answer, "250 server.test x\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n554 5.7.1 rejected\r\n221 Bye\r\n");

        var result = Assert.Single(TraceAnalyzer.Analyze(trace.WriteNanosecondPcap(PathFor("rejected.pcap"))));

        Assert.Null(result.SynToAcceptMs);
        Assert.Equal(2, result.ClientWaits);
        Assert.Equal("early-pipe", result.VariantGuess);
    }

    [Fact]
    public void Microsecond_pcap_port_reuse_noise_and_non_smtp_flows()
    {
        var trace = new SyntheticTrace();
        // Connection 1 and, on the same ports, connection 2 with a new ISN (port reuse).
        var first = trace.Connect(Client, 40011, Server, 25, 100, 200);
        Classic(first, recipients: 1, start: 0);
        var second = trace.Connect(Client, 40011, Server, 25, 900_000, 800_000);
        var secondAccept = Classic(second, recipients: 2, start: 2000);
        // A non-SMTP connection: counted, but no dialogue.
        var http = trace.Connect(Client, 40012, Server, 80, 1, 2);
        http.Syn(500).SynAck(500 + Rtt).Client(500 + Rtt + Think, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").Server(600, "HTTP/1.1 200 OK\r\n\r\n");
        // Noise: a segment of a connection whose SYN was not captured, a UDP datagram, garbage.
        trace.AddRaw(700, SyntheticTrace.BuildFrame(IPAddress.Parse(Client), 41000, IPAddress.Parse(Server), 25, 5, 6, false, true, false, [], "NOOP\r\n"u8.ToArray(), 1));
        var udp = SyntheticTrace.BuildFrame(IPAddress.Parse(Client), 53, IPAddress.Parse(Server), 53, 0, 0, false, false, false, [], [], 2);
        udp[14 + 9] = 17;
        trace.AddRaw(701, udp);
        trace.AddRaw(702, [0xde, 0xad, 0xbe, 0xef]);

        var results = TraceAnalyzer.Analyze(trace.WriteMicrosecondPcap(PathFor("mixed-us.pcap")));

        Assert.Equal([40011, 40012, 40011], results.Select(r => (int)r.Flow.ClientPort));
        Assert.Equal(7, results[0].ClientWaits);
        Assert.Equal("classic", results[0].VariantGuess);
        Assert.Equal((first.ClientSegments, first.ServerSegments), (results[0].SegmentsClientToServer, results[0].SegmentsServerToClient));
        Assert.Null(results[1].VariantGuess);
        Assert.Null(results[1].SynToAcceptMs);
        Assert.Equal(2, results[1].ClientWaits);                     // SYN-ACK and the HTTP response: flights, but no deciding reply
        Assert.Equal(8, results[2].ClientWaits);
        Assert.Equal((second.ClientSegments, second.ServerSegments), (results[2].SegmentsClientToServer, results[2].SegmentsServerToClient));
        // Microsecond file: times are exact to the microsecond.
        Assert.Equal((double)(secondAccept - 2000), results[2].SynToAcceptMs!.Value, 3);
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(SyntheticTrace.EpochSeconds + 2), results[2].FirstSyn);
    }

    [Fact]
    public void Missing_or_unreadable_files_are_reported()
    {
        Assert.Throws<FileNotFoundException>(() => TraceAnalyzer.Analyze(PathFor("absent.pcap")));
        File.WriteAllText(PathFor("text.pcap"), "this is not a capture file at all");
        Assert.Throws<InvalidDataException>(() => TraceAnalyzer.Analyze(PathFor("text.pcap")));
    }

    [Fact]
    public void A_truncated_file_yields_the_packets_before_the_cut()
    {
        var trace = new SyntheticTrace();
        Classic(trace.Connect(Client, 40013, Server, 25, 1, 2), recipients: 1);
        var path = trace.WriteNanosecondPcap(PathFor("cut.pcap"));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);                       // the last record loses its tail

        var result = Assert.Single(TraceAnalyzer.Analyze(path));

        Assert.Equal(10, result.SegmentsClientToServer);
        Assert.Equal(10, result.SegmentsServerToClient);             // the server's final ACK is gone
        Assert.Equal(7, result.ClientWaits);
    }
}
