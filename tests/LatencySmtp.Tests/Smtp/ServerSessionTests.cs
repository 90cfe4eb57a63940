using System.Text;
using LatencySmtp.Smtp;

namespace LatencySmtp.Tests.Smtp;

public class ServerSessionTests
{
    const string ClassicTranscript = """
        S: 220 mx.test ESMTP Srv/1.0
        C: EHLO client.example
        S: 250-mx.test
        S: 250-PIPELINING
        S: 250-CHUNKING
        S: 250-8BITMIME
        S: 250-SIZE 10485760
        S: 250-ENHANCEDSTATUSCODES
        S: 250 SMTPUTF8
        C: MAIL FROM:<alice@example.org> SIZE=100
        S: 250 2.1.0 Ok
        C: RCPT TO:<bob@example.net>
        S: 250 2.1.5 Ok
        C: RCPT TO:<carol@example.net>
        S: 250 2.1.5 Ok
        C: DATA
        S: 354 End data with <CR><LF>.<CR><LF>
        C: Subject: hi
        C: 
        C: ..leading dot
        C: ...
        C: .
        S: 250 2.0.0 Ok: queued as Q1
        C: NOOP
        S: 250 2.0.0 Ok
        C: QUIT
        S: 221 2.0.0 Bye
        """;

    const string GreetinglessTranscript = """
        C: XID client.example LatencySmtp/0.1.0 TXID=t-42
        S: 250 mx.test Srv/1.0
        C: MAIL FROM:<alice@example.org> SIZE=18
        S: 250 2.1.0 Ok
        C: RCPT TO:<bob@example.net>
        S: 250 2.1.5 Ok
        C: BDAT 18 LAST
        C: Subject: hi
        C: 
        C: .
        S: 250 2.0.0 Ok: queued as Q1
        C: QUIT
        S: 221 2.0.0 Bye
        """;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void ClassicTranscriptInAnySplit(int chunk)
    {
        var (client, server) = Transcript.Parse(ClassicTranscript);
        var h = new ServerHarness(ServerMode.Classic).Feed(client, chunk);
        Assert.Equal(Transcript.Show(server), h.Text);
        var d = Assert.Single(h.Delivered);
        Assert.Equal("Subject: hi\r\n\r\n.leading dot\r\n..\r\n", Encoding.ASCII.GetString(d.Message.Span));
        Assert.Equal("client.example", d.Envelope.ClientDomain);
        Assert.Equal("alice@example.org", d.Envelope.ReversePath);
        Assert.Null(d.Envelope.ClientSoftware);
        Assert.Null(d.Envelope.TransactionId);
        Assert.Equal(["bob@example.net", "carol@example.net"], d.Envelope.Recipients);
        Assert.True(h.Session.IsClosed);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5)]
    public void GreetinglessTranscriptInAnySplit(int chunk)
    {
        var (client, server) = Transcript.Parse(GreetinglessTranscript);
        var h = new ServerHarness(ServerMode.Greetingless);
        Assert.Empty(h.Output.ToArray()); // no greeting
        h.Feed(client, chunk);
        Assert.Equal(Transcript.Show(server), h.Text);
        var d = Assert.Single(h.Delivered);
        // BDAT is binary: the "." line is content, not an end of data.
        Assert.Equal("Subject: hi\r\n\r\n.\r\n", Encoding.ASCII.GetString(d.Message.Span));
        Assert.Equal("LatencySmtp/0.1.0", d.Envelope.ClientSoftware);
        Assert.Equal("t-42", d.Envelope.TransactionId);
        Assert.Equal("client.example", d.Envelope.ClientDomain);
        Assert.True(h.Session.IsClosed);
    }

    [Fact]
    public void GreetinglessRequestWithFinAtOnce()
    {
        // The T/TCP case: the whole request and the FIN arrive together, while the store is still busy.
        var request = GreetinglessRequest.Build(new ClientIdentity("c.example", "Cli/1", null),
            new MailRequest("a@b.c", ["d@e.f"], Encoding.ASCII.GetBytes("x\r\n")));
        var h = new ServerHarness(ServerMode.Greetingless) { AutoComplete = false };
        h.Session.Receive(request);
        h.Session.ReceiveEnd();
        Assert.NotNull(h.Session.PendingDelivery);
        Assert.False(h.Session.IsClosed);
        h.AutoComplete = true;
        h.Drain();
        Assert.Equal([
            "250 mx.test Srv/1.0", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: queued as Q1", "221 2.0.0 Bye"], h.Replies);
        Assert.True(h.Session.IsClosed);
    }

    [Fact]
    public void PipelinedCommandsAnsweredInOrder()
    {
        var h = new ServerHarness(ServerMode.Classic)
            .Feed("EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nRCPT TO:<bad\r\nFOO\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n");
        var replies = h.Replies.Where(r => r[3] == ' ').ToArray();
        Assert.Equal([
            "220 mx.test ESMTP Srv/1.0", "250 SMTPUTF8", "250 2.1.0 Ok", "250 2.1.5 Ok",
            "501 5.1.3 Bad recipient address syntax: missing @domain", "500 5.5.2 Error: command not recognized",
            "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as Q1", "221 2.0.0 Bye"], replies);
        Assert.Equal("hello\r\n", Encoding.ASCII.GetString(Assert.Single(h.Delivered).Message.Span));
    }

    [Fact]
    public void EhloAdvertisesExtensions()
    {
        var h = new ServerHarness(ServerMode.Classic, new SmtpLimits { MaxMessageOctets = 5000 }).Feed("EHLO c\r\n");
        Assert.Equal([
            "220 mx.test ESMTP Srv/1.0", "250-mx.test", "250-PIPELINING", "250-CHUNKING", "250-8BITMIME",
            "250-SIZE 5000", "250-ENHANCEDSTATUSCODES", "250 SMTPUTF8"], h.Replies);
    }

    [Theory]
    [InlineData("MAIL FROM:<a@b.c>\r\n", "503 5.5.1 Error: send EHLO/HELO first")]
    [InlineData("EHLO c\r\nRCPT TO:<a@b.c>\r\n", "503 5.5.1 Error: need MAIL command")]
    [InlineData("EHLO c\r\nDATA\r\n", "503 5.5.1 Error: need MAIL command")]
    [InlineData("EHLO c\r\nMAIL FROM:<a@b.c>\r\nDATA\r\n", "503 5.5.1 Error: need RCPT command")]
    [InlineData("EHLO c\r\nMAIL FROM:<a@b.c>\r\nMAIL FROM:<a@b.c>\r\n", "503 5.5.1 Error: nested MAIL command")]
    [InlineData("XID c sw\r\n", "500 5.5.2 Error: command not recognized")]
    [InlineData("EHLO c\r\nFROB\r\n", "500 5.5.2 Error: command not recognized")]
    [InlineData("EHLO c\r\nMAIL FROM:<a@b.c> SIZE=10485761\r\n", "552 5.3.4 Message size exceeds fixed maximum message size")]
    [InlineData("EHLO c\r\nMAIL FROM:<用户@例子.广告>\r\n", "553 5.6.7 Non-ASCII address needs SMTPUTF8")]
    [InlineData("HELO c\r\nVRFY bob\r\n", "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery")]
    [InlineData("HELP\r\n", "214 2.0.0 Commands: EHLO HELO XID MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP")]
    [InlineData("NOOP\r\n", "250 2.0.0 Ok")]
    public void ClassicLastReply(string input, string lastReply)
    {
        var h = new ServerHarness(ServerMode.Classic).Feed(input);
        Assert.Equal(lastReply, h.Replies[^1]);
        Assert.Empty(h.Delivered);
    }

    [Theory]
    [InlineData("MAIL FROM:<a@b.c>\r\n", "503 5.5.1 Error: send XID or EHLO first")]
    [InlineData("NOOP\r\n", "503 5.5.1 Error: send XID or EHLO first")]
    [InlineData("RSET\r\n", "503 5.5.1 Error: send XID or EHLO first")]
    [InlineData("QUIT\r\n", "221 2.0.0 Bye")]
    [InlineData("EHLO c\r\n", "250 SMTPUTF8")]
    [InlineData("HELO c\r\n", "250 mx.test")]
    [InlineData("XID c sw\r\n", "250 mx.test Srv/1.0")]
    [InlineData("XID c sw\r\nMAIL FROM:<a@b.c>\r\n", "250 2.1.0 Ok")]
    [InlineData("EHLO c\r\nMAIL FROM:<a@b.c>\r\n", "250 2.1.0 Ok")]
    public void GreetinglessFirstCommand(string input, string lastReply)
    {
        var h = new ServerHarness(ServerMode.Greetingless).Feed(input);
        Assert.Equal(lastReply, h.Replies[^1]);
    }

    [Fact]
    public void GreetinglessBdatBeforeIdentificationStillConsumesTheChunk()
    {
        var h = new ServerHarness(ServerMode.Greetingless).Feed("BDAT 6 LAST\r\nQUIT\r\nXID c sw\r\n");
        Assert.Equal(["503 5.5.1 Error: send XID or EHLO first", "250 mx.test Srv/1.0"], h.Replies);
    }

    [Fact]
    public void TooManyRecipients()
    {
        var h = new ServerHarness(ServerMode.Classic, new SmtpLimits { MaxRecipients = 2 })
            .Feed("EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<1@x.y>\r\nRCPT TO:<2@x.y>\r\nRCPT TO:<3@x.y>\r\nDATA\r\nm\r\n.\r\n");
        Assert.Contains("452 4.5.3 Too many recipients", h.Replies);
        Assert.Equal(["1@x.y", "2@x.y"], Assert.Single(h.Delivered).Envelope.Recipients);
    }

    [Fact]
    public void PostmasterAndNullReversePath()
    {
        var h = new ServerHarness(ServerMode.Classic).Feed("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\nDATA\r\nbounce\r\n.\r\n");
        var d = Assert.Single(h.Delivered);
        Assert.Equal("", d.Envelope.ReversePath);
        Assert.Equal(["Postmaster"], d.Envelope.Recipients);
    }

    [Fact]
    public void RsetClearsTheTransactionButKeepsIdentification()
    {
        var h = new ServerHarness(ServerMode.Classic)
            .Feed("EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nRSET\r\nDATA\r\nMAIL FROM:<n@b.c>\r\nRCPT TO:<w@y.z>\r\nDATA\r\nm\r\n.\r\n");
        Assert.Contains("503 5.5.1 Error: need MAIL command", h.Replies);
        var d = Assert.Single(h.Delivered);
        Assert.Equal("n@b.c", d.Envelope.ReversePath);
        Assert.Equal(["w@y.z"], d.Envelope.Recipients);
    }

    [Fact]
    public void TwoTransactionsOnOneConnection()
    {
        var h = new ServerHarness(ServerMode.Classic).Feed(
            "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\none\r\n.\r\n" +
            "MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nBDAT 3 LAST\r\ntwoQUIT\r\n");
        Assert.Equal(["one\r\n", "two"], h.Delivered.Select(d => Encoding.ASCII.GetString(d.Message.Span)));
        Assert.Contains("250 2.0.0 Ok: queued as Q1", h.Replies);
        Assert.Equal(["250 2.0.0 Ok: queued as Q2", "221 2.0.0 Bye"], h.Replies[^2..]);
    }

    static ServerHarness InData(SmtpLimits? limits = null) =>
        new ServerHarness(ServerMode.Classic, limits).Feed("EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n");

    [Theory]
    [InlineData("a\n.\nb\r\n.\r\n")]       // "\n.\n" is not an end of data
    [InlineData("a\r.\rb\r\n.\r\n")]       // nor "\r.\r"
    [InlineData("a\n.\r\nb\r\n.\r\n")]     // nor LF "." CRLF
    [InlineData("bare\nlf\r\n.\r\n")]
    [InlineData("bare\rcr\r\n.\r\n")]
    [InlineData("cr at end\r\r\n.\r\n")]
    public void BareLineEndingsRejectTheMessage(string data)
    {
        foreach (var chunk in new[] { 0, 1 })
        {
            var h = InData().Feed(data + "NOOP\r\n", chunk);
            Assert.Equal(["550 5.6.2 bare LF/CR not allowed", "250 2.0.0 Ok"], h.Replies[^2..]);
            Assert.Empty(h.Delivered);
            // The transaction is over: a new one needs MAIL again.
            h.Feed("RCPT TO:<x@y.z>\r\n");
            Assert.Equal("503 5.5.1 Error: need MAIL command", h.Replies[^1]);
        }
    }

    [Fact]
    public void DotStuffedLinesSurvive()
    {
        var h = InData().Feed("..\r\n...\r\n..x\r\n.y\r\nz.\r\n\r\n.\r\n");
        Assert.Equal(".\r\n..\r\n.x\r\ny\r\nz.\r\n\r\n", Encoding.ASCII.GetString(Assert.Single(h.Delivered).Message.Span));
    }

    [Fact]
    public void EmptyMessage()
    {
        var h = InData().Feed(".\r\n");
        Assert.Equal(0, Assert.Single(h.Delivered).Message.Length);
    }

    [Fact]
    public void TextLineLimitCountsCrlfButNotTheStuffedDot()
    {
        var exact = new string('a', 998) + "\r\n";          // 1000 octets: allowed
        var stuffed = "." + new string('.', 997) + "\r\n";  // 999 + stuffed dot: allowed
        var h = InData().Feed(exact + "." + stuffed + ".\r\n", 1);
        Assert.Equal(exact + stuffed, Encoding.ASCII.GetString(Assert.Single(h.Delivered).Message.Span));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(333)]
    public void TextLineTooLongRejectsAfterEndOfData(int chunk)
    {
        var h = InData().Feed("ok\r\n" + new string('a', 999) + "\r\n" + new string('b', 100_000) + "\r\nmore\r\n.\r\nNOOP\r\n", chunk);
        Assert.Equal(["354 End data with <CR><LF>.<CR><LF>", "500 5.5.2 Line too long", "250 2.0.0 Ok"], h.Replies[^3..]);
        Assert.Empty(h.Delivered);
    }

    [Fact]
    public void MessageTooLargeIs552()
    {
        var limits = new SmtpLimits { MaxMessageOctets = 100 };
        var h = InData(limits).Feed(string.Concat(Enumerable.Repeat("0123456789\r\n", 50)) + ".\r\nNOOP\r\n");
        Assert.Equal(["552 5.3.4 Message size exceeds fixed maximum message size", "250 2.0.0 Ok"], h.Replies[^2..]);
        Assert.Empty(h.Delivered);
        // Exactly the limit is fine.
        var fits = InData(limits).Feed(string.Concat(Enumerable.Repeat("0123456789\r\n", 8)) + "01\r\n.\r\n");
        Assert.Equal(100, Assert.Single(fits.Delivered).Message.Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(100)]
    public void CommandLineTooLongResynchronises(int chunk)
    {
        var h = new ServerHarness(ServerMode.Classic).Feed("NOOP " + new string('x', 2_000_000) + "\r\nNOOP\r\nMAIL " + new string('y', 508) + "\r\nNOOP\r\n", chunk);
        Assert.Equal(["220 mx.test ESMTP Srv/1.0", "500 5.5.2 Line too long", "250 2.0.0 Ok", "500 5.5.2 Line too long", "250 2.0.0 Ok"], h.Replies);
    }

    [Fact]
    public void CommandLineAtTheLimitIsAccepted()
    {
        var h = new ServerHarness(ServerMode.Classic).Feed("NOOP " + new string('x', 505) + "\r\n", 1);
        Assert.Equal("250 2.0.0 Ok", h.Replies[^1]);
    }

    [Fact]
    public void BareLfCommandsAreTolerated()
    {
        var h = new ServerHarness(ServerMode.Classic).Feed("EHLO c\nNOOP\nQUIT\n");
        Assert.Equal("221 2.0.0 Bye", h.Replies[^1]);
    }

    static ServerHarness Enveloped(ServerMode mode = ServerMode.Classic, SmtpLimits? limits = null) =>
        new ServerHarness(mode, limits).Feed("EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\n");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(9)]
    public void BdatChunksSplitAcrossFeeds(int chunk)
    {
        var binary = new byte[] { 0, 1, (byte)'\r', (byte)'\n', (byte)'.', (byte)'\r', (byte)'\n', (byte)'\n', 0xFF, (byte)'\r' };
        var input = new MemoryStream();
        input.Write("BDAT 4\r\n"u8);
        input.Write(binary, 0, 4);
        input.Write("BDAT 0\r\n"u8);
        input.Write("BDAT 6 LAST\r\n"u8);
        input.Write(binary, 4, 6);
        input.Write("QUIT\r\n"u8);
        var h = Enveloped().Feed(input.ToArray(), chunk);
        Assert.Equal(["250 2.0.0 4 octets received", "250 2.0.0 4 octets received", "250 2.0.0 Ok: queued as Q1", "221 2.0.0 Bye"], h.Replies[^4..]);
        Assert.Equal(binary, Assert.Single(h.Delivered).Message.ToArray());
    }

    [Fact]
    public void BdatOutOfSequenceConsumesItsChunk()
    {
        // RFC 3030 §2: the chunk is read even when the command is refused, or framing would be lost.
        var h = new ServerHarness(ServerMode.Classic).Feed("EHLO c\r\nBDAT 12 LAST\r\nNOOP\r\nNOOP\r\nNOOP\r\n");
        Assert.Equal(["503 5.5.1 Error: need MAIL command", "250 2.0.0 Ok"], h.Replies[^2..]);
        Assert.Empty(h.Delivered);
    }

    [Fact]
    public void DataAfterBdatIsRefused()
    {
        var h = Enveloped().Feed("BDAT 1\r\nxDATA\r\n");
        Assert.Equal("503 5.5.1 Error: DATA not allowed after BDAT", h.Replies[^1]);
    }

    [Fact]
    public void BdatTooLargeIs552AndEndsTheTransaction()
    {
        var h = Enveloped(limits: new SmtpLimits { MaxMessageOctets = 10 }).Feed("BDAT 8\r\n12345678BDAT 8 LAST\r\n12345678NOOP\r\n");
        Assert.Equal(["250 2.0.0 8 octets received", "552 5.3.4 Message size exceeds fixed maximum message size",
                      "250 2.0.0 Ok"], h.Replies[^3..]);
        Assert.Empty(h.Delivered);
        var h2 = Enveloped(limits: new SmtpLimits { MaxMessageOctets = 10 }).Feed("BDAT 11 LAST\r\n12345678901NOOP\r\n");
        Assert.Equal(["552 5.3.4 Message size exceeds fixed maximum message size", "250 2.0.0 Ok"], h2.Replies[^2..]);
    }

    [Fact]
    public void InputPausesWhileDeliveryIsPending()
    {
        var h = Enveloped();
        h.AutoComplete = false;
        h.Feed("DATA\r\nm\r\n.\r\nNOOP\r\nQUIT\r\n");
        var pending = h.Session.PendingDelivery;
        Assert.NotNull(pending);
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", h.Replies[^1]);
        h.Feed("NOOP\r\n"); // still held
        Assert.Equal("354 End data with <CR><LF>.<CR><LF>", h.Replies[^1]);
        h.Session.CompleteDelivery(new DeliveryResult(false, null, "disk full"));
        h.Drain();
        Assert.Equal(["451 4.3.0 Error: queue file write error (disk full)", "250 2.0.0 Ok", "221 2.0.0 Bye"], h.Replies[^3..]);
        Assert.Null(h.Session.PendingDelivery);
        Assert.True(h.Session.IsClosed);
        Assert.Throws<InvalidOperationException>(() => h.Session.CompleteDelivery(new DeliveryResult(true, "x", null)));
    }

    [Fact]
    public void TooMuchInputWhilePendingIs421()
    {
        var h = Enveloped(limits: new SmtpLimits { MaxPipelinedInputOctets = 8192 });
        h.AutoComplete = false;
        h.Feed("DATA\r\nm\r\n.\r\n");
        Assert.NotNull(h.Session.PendingDelivery);
        h.Feed(string.Concat(Enumerable.Repeat("NOOP\r\n", 5000)));
        h.AutoComplete = true;
        h.Drain();
        Assert.Equal(["250 2.0.0 Ok: queued as Q1", "421 4.7.0 Too much pipelined input, closing connection"], h.Replies[^2..]);
        Assert.True(h.Session.IsClosed);
    }

    [Theory]
    [InlineData("DATA\r\nhalf a message\r\n")]
    [InlineData("DATA\r\nhalf a message\r\n.")]
    [InlineData("BDAT 100 LAST\r\nonly part")]
    public void TransactionCutByFinDeliversNothing(string input)
    {
        var h = Enveloped().Feed(input);
        h.Session.ReceiveEnd();
        h.Drain();
        Assert.Empty(h.Delivered);
        Assert.True(h.Session.IsClosed);
        h.Feed(".\r\n");
        Assert.Empty(h.Delivered);
    }

    [Fact]
    public void QuitClosesAndLaterInputIsIgnored()
    {
        var h = new ServerHarness(ServerMode.Classic).Feed("QUIT\r\nNOOP\r\n");
        Assert.Equal(["220 mx.test ESMTP Srv/1.0", "221 2.0.0 Bye"], h.Replies);
        Assert.True(h.Session.IsClosed);
        h.Feed("NOOP\r\n");
        Assert.False(h.Session.HasOutput);
        Assert.Equal(2, h.Replies.Length);
    }

    [Fact]
    public void RepeatedEhloResetsTheTransaction()
    {
        var h = Enveloped().Feed("EHLO again\r\nDATA\r\n");
        Assert.Equal("503 5.5.1 Error: need MAIL command", h.Replies[^1]);
    }
}
