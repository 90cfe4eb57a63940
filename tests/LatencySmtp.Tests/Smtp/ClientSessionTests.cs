using System.Text;
using LatencySmtp.Smtp;

namespace LatencySmtp.Tests.Smtp;

public class ClientSessionTests
{
    static readonly ClientIdentity Me = new("client.example", "LatencySmtp/0.1.0", null);

    static MailRequest Request(string message, params string[] to) =>
        new("alice@example.org", to.Length == 0 ? ["bob@example.net"] : to, Encoding.ASCII.GetBytes(message));

    /// <summary>Feeds the server side of a transcript (all at once or one byte at a time) and collects the client's output.</summary>
    static (ClientSession Session, string Output) Run(ClientMode mode, MailRequest request, byte[] server, int chunk, bool end = false)
    {
        var s = new ClientSession(Me, request, mode);
        s.Start();
        var output = new MemoryStream();
        if (s.HasOutput) output.Write(s.TakeOutput());
        if (chunk <= 0) chunk = Math.Max(1, server.Length);
        for (int i = 0; i < server.Length; i += chunk)
        {
            s.Receive(server.AsSpan(i, Math.Min(chunk, server.Length - i)));
            if (s.HasOutput) output.Write(s.TakeOutput());
        }
        if (end) s.ReceiveEnd();
        return (s, Encoding.UTF8.GetString(output.ToArray()));
    }

    const string ClassicTranscript = """
        S: 220-mx.test ESMTP ready
        S: 220 second greeting line
        C: EHLO client.example
        S: 250-mx.test
        S: 250-PIPELINING
        S: 250 SIZE 1000
        C: MAIL FROM:<alice@example.org> SIZE=22
        S: 250 2.1.0 Ok
        C: RCPT TO:<bob@example.net>
        S: 250 2.1.5 Ok
        C: RCPT TO:<carol@example.net>
        S: 251 2.1.5 will forward
        C: DATA
        S: 354 go ahead
        C: ..dot first
        C: 
        C: ...
        C: tail
        C: .
        S: 250 2.0.0 Ok: queued as 7
        C: QUIT
        S: 221 2.0.0 Bye
        """;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void ClassicTranscript_(int chunk)
    {
        var (client, server) = Transcript.Parse(ClassicTranscript);
        // Message without a final CRLF: the client adds one before the terminating dot.
        var (s, output) = Run(ClientMode.Classic, Request(".dot first\r\n\r\n..\r\ntail", "bob@example.net", "carol@example.net"), server, chunk);
        Assert.Equal(Transcript.Show(client), output);
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.True(s.IsDone);
        Assert.Equal("2.0.0 Ok: queued as 7", s.FinalReply!.Text);
        Assert.Equal("mx.test ESMTP ready", s.ServerIdentity);
        Assert.Null(s.Error);
        Assert.Equal([ClientSession.GreetingCommand, "EHLO client.example", "MAIL FROM:<alice@example.org> SIZE=22",
            "RCPT TO:<bob@example.net>", "RCPT TO:<carol@example.net>", "DATA", ClientSession.EndOfDataCommand, "QUIT"],
            s.Transcript.Select(t => t.Command));
        Assert.Equal([220, 250, 250, 250, 251, 354, 250, 221], s.Transcript.Select(t => t.Reply.Code));
        Assert.Equal(["PIPELINING", "SIZE"], s.Extensions.Keys.Order());
    }

    [Fact]
    public void AcceptedBeforeQuitIsAnswered()
    {
        var (_, server) = Transcript.Parse(ClassicTranscript);
        var text = Encoding.ASCII.GetString(server);
        var upTo250 = text[..(text.IndexOf("221 ", StringComparison.Ordinal))];
        var (s, _) = Run(ClientMode.Classic, Request("x\r\n", "bob@example.net", "carol@example.net"), Encoding.ASCII.GetBytes(upTo250), 0);
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.False(s.IsDone);
        s.ReceiveEnd(); // server closed without answering QUIT: still accepted
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.True(s.IsDone);
    }

    [Fact]
    public void EhloRefusedFallsBackToHelo()
    {
        var (client, server) = Transcript.Parse("""
            S: 220 old.test
            C: EHLO client.example
            S: 500 what?
            C: HELO client.example
            S: 250 old.test
            C: MAIL FROM:<alice@example.org>
            S: 250 ok
            C: RCPT TO:<bob@example.net>
            S: 250 ok
            C: DATA
            S: 354 go
            C: m
            C: .
            S: 250 ok
            C: QUIT
            S: 221 bye
            """);
        var (s, output) = Run(ClientMode.Classic, Request("m\r\n"), server, 1);
        Assert.Equal(Transcript.Show(client), output);
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.Empty(s.Extensions);
    }

    [Theory]
    [InlineData("S: 554 5.7.1 go away", "", 554)]
    [InlineData("S: 220 hi\nS: 421 4.3.2 shutting down", "C: EHLO client.example", 421)]
    [InlineData("S: 220 hi\nS: 250 hi\nS: 550 5.7.1 sender refused", "C: EHLO client.example\nC: MAIL FROM:<alice@example.org>", 550)]
    [InlineData("S: 220 hi\nS: 250 hi\nS: 250 ok\nS: 450 4.2.0 mailbox busy", "C: EHLO client.example\nC: MAIL FROM:<alice@example.org>\nC: RCPT TO:<bob@example.net>", 450)]
    [InlineData("S: 220 hi\nS: 250 hi\nS: 250 ok\nS: 250 ok\nS: 554 5.5.1 no valid recipients", "C: EHLO client.example\nC: MAIL FROM:<alice@example.org>\nC: RCPT TO:<bob@example.net>\nC: DATA", 554)]
    [InlineData("S: 220 hi\nS: 250 hi\nS: 250 ok\nS: 250 ok\nS: 354 go\nS: 552 5.3.4 too big", "C: EHLO client.example\nC: MAIL FROM:<alice@example.org>\nC: RCPT TO:<bob@example.net>\nC: DATA\nC: m\nC: .", 552)]
    public void RejectionEndsWithPoliteQuit(string server, string clientBeforeQuit, int code)
    {
        foreach (var chunk in new[] { 0, 1 })
        {
            var (s, output) = Run(ClientMode.Classic, Request("m\r\n"), Transcript.Parse(server).Server, chunk);
            Assert.Equal(ClientOutcome.Rejected, s.Outcome);
            Assert.True(s.IsDone);
            Assert.Equal(code, s.FinalReply!.Code);
            Assert.Equal(Transcript.Show(Transcript.Parse(clientBeforeQuit + "\nC: QUIT").Client), output);
        }
    }

    [Theory]
    [InlineData("220 hi\r\n250 hi\r\n25", false)]             // needs more: still pending
    [InlineData("220 hi\r\n250-hi\r\n251 x\r\n", true)]      // inconsistent multi-line codes
    [InlineData("220 hi\r\nhello there\r\n", true)]
    [InlineData("220 hi\r\n354 what\r\n", true)]              // a positive but wrong reply to EHLO
    [InlineData("250 not a greeting\r\n", true)]
    public void MalformedOrUnexpectedRepliesFailWithoutThrowing(string server, bool failed)
    {
        foreach (var chunk in new[] { 0, 1 })
        {
            var (s, _) = Run(ClientMode.Classic, Request("m\r\n"), Encoding.ASCII.GetBytes(server), chunk);
            Assert.Equal(failed ? ClientOutcome.Failed : ClientOutcome.Pending, s.Outcome);
            Assert.Equal(failed, s.IsDone);
            if (failed) Assert.False(string.IsNullOrEmpty(s.Error));
        }
    }

    [Fact]
    public void OverlongReplyLineFails()
    {
        var (s, _) = Run(ClientMode.Classic, Request("m\r\n"), Encoding.ASCII.GetBytes("220 " + new string('x', 2000)), 1);
        Assert.Equal(ClientOutcome.Failed, s.Outcome);
        Assert.Contains("longer than 512", s.Error);
    }

    [Fact]
    public void ServerClosingEarlyFails()
    {
        var (s, _) = Run(ClientMode.Classic, Request("m\r\n"), Encoding.ASCII.GetBytes("220 hi\r\n"), 0, end: true);
        Assert.Equal(ClientOutcome.Failed, s.Outcome);
        Assert.True(s.IsDone);
        Assert.Contains("closed", s.Error);
    }

    [Fact]
    public void GreetinglessRequestFormat()
    {
        var id = new ClientIdentity("c.example", "Cli/2", "tx1");
        var bytes = GreetinglessRequest.Build(id, new MailRequest("a@b.c", ["d@e.f", "g@h.i"], Encoding.ASCII.GetBytes("Hi\r\n.\r\n")));
        Assert.Equal(
            "XID c.example Cli/2 TXID=tx1\r\nMAIL FROM:<a@b.c> SIZE=7\r\nRCPT TO:<d@e.f>\r\nRCPT TO:<g@h.i>\r\n" +
            "BDAT 7 LAST\r\nHi\r\n.\r\nQUIT\r\n", Encoding.ASCII.GetString(bytes));
        var nullPath = GreetinglessRequest.Build(Me with { TransactionId = null }, new MailRequest("", ["postmaster"], Array.Empty<byte>()));
        Assert.Equal("XID client.example LatencySmtp/0.1.0\r\nMAIL FROM:<> SIZE=0\r\nRCPT TO:<postmaster>\r\nBDAT 0 LAST\r\nQUIT\r\n",
            Encoding.ASCII.GetString(nullPath));
    }

    const string GreetinglessReplies = """
        S: 250 mx.test Srv/1.0
        S: 250 2.1.0 Ok
        S: 250 2.1.5 Ok
        S: 250 2.0.0 Ok: queued as Q1
        S: 221 2.0.0 Bye
        """;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void GreetinglessTranscript(int chunk)
    {
        var request = Request("Subject: x\r\n\r\nbody\r\n");
        var (s, output) = Run(ClientMode.Greetingless, request, Transcript.Parse(GreetinglessReplies).Server, chunk);
        Assert.Equal(Encoding.ASCII.GetString(GreetinglessRequest.Build(Me, request)), output);
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.True(s.IsDone);
        Assert.Equal("mx.test Srv/1.0", s.ServerIdentity);
        Assert.Equal("2.0.0 Ok: queued as Q1", s.FinalReply!.Text);
        Assert.Equal(["XID client.example LatencySmtp/0.1.0", "MAIL FROM:<alice@example.org> SIZE=20",
            "RCPT TO:<bob@example.net>", "BDAT 20 LAST", "QUIT"], s.Transcript.Select(t => t.Command));
    }

    [Fact]
    public void GreetinglessAcceptedAtBdatReplyAndDoneWhenStreamEnds()
    {
        var s = new ClientSession(Me, Request("m\r\n"), ClientMode.Greetingless);
        s.Start();
        Assert.NotEmpty(s.TakeOutput());
        s.Receive("250 mx Srv\r\n250 ok\r\n250 ok\r\n"u8);
        Assert.Equal(ClientOutcome.Pending, s.Outcome);
        s.Receive("250 queued\r"u8);
        Assert.Equal(ClientOutcome.Pending, s.Outcome);
        s.Receive("\n"u8);
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.False(s.IsDone);
        Assert.False(s.HasOutput); // nothing more to send: QUIT went with the request
        s.ReceiveEnd();
        Assert.True(s.IsDone);
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
    }

    [Fact]
    public void GreetinglessTakesAnUnaskedGreetingAsIdentification()
    {
        var server = Encoding.ASCII.GetBytes("220 mx.test ESMTP\r\n250 mx.test Srv\r\n250 ok\r\n250 ok\r\n250 queued\r\n221 bye\r\n");
        var (s, _) = Run(ClientMode.Greetingless, Request("m\r\n"), server, 1);
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.True(s.IsDone);
        Assert.Equal("mx.test Srv", s.ServerIdentity);
    }

    [Fact]
    public void GreetinglessRejectedByClassicServer()
    {
        // A classic server answers XID with 500 and everything after with 503.
        var server = Encoding.ASCII.GetBytes("500 5.5.2 unknown\r\n503 5.5.1 no\r\n503 5.5.1 no\r\n503 5.5.1 no\r\n221 bye\r\n");
        var (s, output) = Run(ClientMode.Greetingless, Request("m\r\n"), server, 0);
        Assert.Equal(ClientOutcome.Rejected, s.Outcome);
        Assert.Equal(500, s.FinalReply!.Code);
        Assert.True(s.IsDone);
        Assert.Equal(5, s.Transcript.Count);
        Assert.DoesNotContain("QUIT\r\nQUIT", output);
    }

    [Theory]
    [InlineData("250 x\r\n250 ok\r\n550 5.1.1 no such user\r\n503 no\r\n221 bye\r\n", 550)]
    [InlineData("250 x\r\n250 ok\r\n250 ok\r\n552 5.3.4 too big\r\n221 bye\r\n", 552)]
    public void GreetinglessRejection(string server, int code)
    {
        var (s, _) = Run(ClientMode.Greetingless, Request("m\r\n"), Encoding.ASCII.GetBytes(server), 1);
        Assert.Equal(ClientOutcome.Rejected, s.Outcome);
        Assert.Equal(code, s.FinalReply!.Code);
        Assert.True(s.IsDone);
    }

    [Fact]
    public void ReplyAfterEverythingIsIgnoredOnceDone()
    {
        var server = Transcript.Parse(GreetinglessReplies).Server.Concat("421 late\r\n"u8.ToArray()).ToArray();
        var (s, _) = Run(ClientMode.Greetingless, Request("m\r\n"), server, 0);
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.Null(s.Error);
    }

    [Theory]
    [InlineData("", ".\r\n")]
    [InlineData("a", "a\r\n.\r\n")]
    [InlineData("a\r\n", "a\r\n.\r\n")]
    [InlineData(".", "..\r\n.\r\n")]
    [InlineData("\r\n.\r\n", "\r\n..\r\n.\r\n")]
    [InlineData("x\n.y", "x\n..y\r\n.\r\n")] // after a bare LF too, so it cannot end the data anywhere
    [InlineData("a.\r\n..\r\n", "a.\r\n...\r\n.\r\n")]
    public void DotStuffing_(string message, string body) =>
        Assert.Equal(body, Encoding.ASCII.GetString(DotStuffing.Stuff(Encoding.ASCII.GetBytes(message))));

    [Fact]
    public void AcceptedStandsWhenTheQuitReplyIsGarbled()
    {
        var (s, _) = Run(ClientMode.Greetingless, Request("m\r\n"),
            Encoding.ASCII.GetBytes("250 x\r\n250 ok\r\n250 ok\r\n250 queued\r\n2x1 bye\r\n"), 0);
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.True(s.IsDone);
        Assert.Null(s.Error);
    }

    [Fact]
    public void NonAsciiAddressesAskForSmtpUtf8()
    {
        var request = new MailRequest("用户@例子.广告", ["bob@example.net"], "m\r\n"u8.ToArray());
        var text = Encoding.UTF8.GetString(GreetinglessRequest.Build(Me, request));
        Assert.Contains("MAIL FROM:<用户@例子.广告> SIZE=3 SMTPUTF8\r\n", text);
        var run = EndToEndTests.Converse(ClientMode.Classic, ServerMode.Classic, request);
        Assert.Equal(ClientOutcome.Accepted, run.Client.Outcome);
        Assert.Equal("用户@例子.广告", Assert.Single(run.Delivered).Envelope.ReversePath);
    }

    [Fact]
    public void NoRecipientsIsAnArgumentError() =>
        Assert.Throws<ArgumentException>(() => new ClientSession(Me, new MailRequest("a@b.c", [], Array.Empty<byte>()), ClientMode.Classic));

    /// <summary>Adversarial review: a CR LF in --to let `send` slip a second RCPT into the request.</summary>
    [Theory]
    [InlineData("to", "c@d>\r\nRCPT TO:<injected@evil.example")]
    [InlineData("to", "c@d\nRCPT TO:<x@y>")]
    [InlineData("to", "c d@e")]
    [InlineData("from", "a@b>\r\nRSET")]
    [InlineData("from", "a\0@b")]
    [InlineData("helo", "x\r\nMAIL FROM:<z@z>")]
    [InlineData("helo", "")]
    [InlineData("txid", "t1\r\nQUIT")]
    public void A_value_that_would_break_out_of_its_command_is_an_argument_error(string field, string value)
    {
        var identity = field switch
        {
            "helo" => Me with { HostName = value },
            "txid" => Me with { TransactionId = value },
            _ => Me,
        };
        var request = new MailRequest(field == "from" ? value : "a@b.c", [field == "to" ? value : "d@e.f"], "x\r\n"u8.ToArray());
        foreach (var mode in new[] { ClientMode.Classic, ClientMode.Pipelined, ClientMode.Greetingless })
            Assert.Throws<ArgumentException>(() => new ClientSession(identity, request, mode));
    }

    [Fact]
    public void The_null_reverse_path_and_utf8_addresses_are_allowed()
    {
        var s = new ClientSession(Me, new MailRequest("", ["j\u00f6rg@b\u00fccher.example"], "x\r\n"u8.ToArray()), ClientMode.Greetingless);
        s.Start();
        Assert.Contains("MAIL FROM:<>", Encoding.UTF8.GetString(s.TakeOutput()));
    }
}
