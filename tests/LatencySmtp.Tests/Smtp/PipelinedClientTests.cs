using System.Text;
using LatencySmtp.Smtp;

namespace LatencySmtp.Tests.Smtp;

/// <summary>ClientMode.Pipelined against server transcripts: RFC 2920 command groups, RFC 3030 BDAT LAST.</summary>
public class PipelinedClientTests
{
    static readonly ClientIdentity Me = new("client.example", "Cli/1", null);

    static (ClientSession Session, List<string> Writes) Run(string message, string serverTranscript, int chunk, params string[] to)
    {
        var s = new ClientSession(Me, new MailRequest("a@example.org", to.Length == 0 ? ["b@example.net"] : to, Encoding.ASCII.GetBytes(message)), ClientMode.Pipelined);
        s.Start();
        var writes = new List<string>();
        Assert.False(s.HasOutput); // waits for the greeting
        var server = Transcript.Parse(serverTranscript).Server;
        if (chunk <= 0) chunk = server.Length;
        for (int i = 0; i < server.Length; i += chunk)
        {
            s.Receive(server.AsSpan(i, Math.Min(chunk, server.Length - i)));
            if (s.HasOutput) writes.Add(Encoding.ASCII.GetString(s.TakeOutput()));
        }
        return (s, writes);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void ChunkingGroupsEverythingAfterEhlo(int chunk)
    {
        var (s, writes) = Run("hi\r\n", """
            S: 220 mx ESMTP
            S: 250-mx
            S: 250-PIPELINING
            S: 250 CHUNKING
            S: 250 2.1.0 Ok
            S: 250 2.1.5 Ok
            S: 250 2.1.5 Ok
            S: 250 2.0.0 queued
            S: 221 bye
            """, chunk, "b@example.net", "c@example.net");
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.True(s.IsDone);
        if (chunk == 1)
            Assert.Equal([
                "EHLO client.example\r\n",
                "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nBDAT 4 LAST\r\nhi\r\n",
                "QUIT\r\n"], writes);
        Assert.Equal("EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nBDAT 4 LAST\r\nhi\r\nQUIT\r\n",
            string.Concat(writes));
    }

    [Fact]
    public void PipeliningWithoutChunkingGroupsUpToData()
    {
        var (s, writes) = Run(".x\r\n", """
            S: 220 mx ESMTP
            S: 250-mx
            S: 250 PIPELINING
            S: 250 2.1.0 Ok
            S: 250 2.1.5 Ok
            S: 354 go
            S: 250 2.0.0 queued
            S: 221 bye
            """, 1);
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.Equal([
            "EHLO client.example\r\n",
            "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n",
            "..x\r\n.\r\n",
            "QUIT\r\n"], writes);
    }

    [Fact]
    public void WithoutPipeliningBehavesClassically()
    {
        var (s, writes) = Run("x\r\n", """
            S: 220 mx ESMTP
            S: 250-mx
            S: 250 CHUNKING
            S: 250 2.1.0 Ok
            S: 250 2.1.5 Ok
            S: 354 go
            S: 250 2.0.0 queued
            S: 221 bye
            """, 1);
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.Equal(["EHLO client.example\r\n", "MAIL FROM:<a@example.org>\r\n", "RCPT TO:<b@example.net>\r\n",
                      "DATA\r\n", "x\r\n.\r\n", "QUIT\r\n"], writes);
    }

    [Fact]
    public void RecipientRefusedInAGroupWithData()
    {
        // The DATA is already in flight: QUIT waits for its reply, so it cannot become message text.
        var (s, writes) = Run("x\r\n", """
            S: 220 mx ESMTP
            S: 250-mx
            S: 250 PIPELINING
            S: 250 2.1.0 Ok
            S: 550 5.1.1 no such user
            S: 554 5.5.1 no valid recipients
            S: 221 bye
            """, 1);
        Assert.Equal(ClientOutcome.Rejected, s.Outcome);
        Assert.Equal(550, s.FinalReply!.Code);
        Assert.True(s.IsDone);
        Assert.Equal("QUIT\r\n", writes[^1]);
        Assert.Equal(["DATA", "QUIT"], s.Transcript.Skip(4).Select(t => t.Command));
    }

    /// <summary>RFC 5321 §3.3: a refused recipient does not end the transaction; the message goes to the others.</summary>
    [Fact]
    public void A_refused_recipient_leaves_the_mail_to_the_others()
    {
        var (s, writes) = Run("x\r\n", """
            S: 220 mx ESMTP
            S: 250-mx
            S: 250 PIPELINING
            S: 250 2.1.0 Ok
            S: 550 5.1.1 no such user
            S: 250 2.1.5 Ok
            S: 354 go
            S: 250 2.0.0 queued
            S: 221 bye
            """, 0, "b@example.net", "c@example.net");
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.Equal(250, s.FinalReply!.Code);
        var (recipient, reply) = Assert.Single(s.RefusedRecipients);
        Assert.Equal(("b@example.net", 550), (recipient, reply.Code));
        Assert.Contains("x\r\n.\r\n", string.Concat(writes));
        Assert.Contains("QUIT", string.Concat(writes));
    }

    [Fact]
    public void Lock_step_goes_on_to_the_next_recipient_after_a_refusal()
    {
        var (s, writes) = Run("x\r\n", """
            S: 220 mx ESMTP
            S: 250 mx
            S: 250 2.1.0 Ok
            S: 452 4.2.2 mailbox full
            S: 250 2.1.5 Ok
            S: 354 go
            S: 250 2.0.0 queued
            S: 221 bye
            """, 1, "b@example.net", "c@example.net");
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        Assert.Equal("b@example.net", Assert.Single(s.RefusedRecipients).Recipient);
        Assert.Equal(["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "x", "QUIT"], writes.Select(w => w.Split(' ', ':', '\r')[0]).ToArray());
    }

    [Fact]
    public void Every_recipient_refused_refuses_the_mail_and_sends_no_message()
    {
        var (s, writes) = Run("x\r\n", """
            S: 220 mx ESMTP
            S: 250-mx
            S: 250 PIPELINING
            S: 250 2.1.0 Ok
            S: 550 5.1.1 no such user
            S: 452 4.5.3 too many recipients
            S: 554 5.5.1 no valid recipients
            """, 0, "b@example.net", "c@example.net");
        Assert.Equal(ClientOutcome.Rejected, s.Outcome);
        Assert.Equal(2, s.RefusedRecipients.Count);
        Assert.DoesNotContain("x\r\n.", string.Concat(writes));
    }

    [Fact]
    public void BdatRefusedInAGroupSendsQuit()
    {
        var (s, writes) = Run("x\r\n", """
            S: 220 mx ESMTP
            S: 250-mx
            S: 250-PIPELINING
            S: 250 CHUNKING
            S: 250 2.1.0 Ok
            S: 250 2.1.5 Ok
            S: 554 5.7.1 content refused
            S: 221 bye
            """, 1);
        Assert.Equal(ClientOutcome.Rejected, s.Outcome);
        Assert.Equal(554, s.FinalReply!.Code);
        Assert.Equal("QUIT\r\n", writes[^1]);
    }
}
