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

    [Fact]
    public void RecipientRefusedButDataAcceptedSendsNothingMore()
    {
        var (s, writes) = Run("x\r\n", """
            S: 220 mx ESMTP
            S: 250-mx
            S: 250 PIPELINING
            S: 250 2.1.0 Ok
            S: 550 5.1.1 no such user
            S: 250 2.1.5 Ok
            S: 354 go
            """, 0, "b@example.net", "c@example.net");
        Assert.Equal(ClientOutcome.Rejected, s.Outcome);
        Assert.DoesNotContain("QUIT", string.Concat(writes));
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
