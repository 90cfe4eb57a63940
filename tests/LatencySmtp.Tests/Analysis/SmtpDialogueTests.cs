using System.Text;
using FsCheck.Xunit;
using LatencySmtp.Testbed.Analysis;

namespace LatencySmtp.Tests.Analysis;

public sealed class SmtpDialogueTests
{
    private static SmtpDialogue Follow(string client, string server) =>
        SmtpDialogue.Follow(Encoding.ASCII.GetBytes(client), Encoding.ASCII.GetBytes(server));

    private static string Verbs(SmtpDialogue d) => string.Join(" ", d.Units.Select(u => $"{u.Verb}>{u.ReplyIndex}"));

    [Fact]
    public void Classic_dialogue_pairs_the_greeting_commands_and_end_of_data()
    {
        var d = Follow(
            "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nline\r\n..dot-stuffed\r\n.\r\nQUIT\r\n",
            "220 s\r\n250-s\r\n250-PIPELINING\r\n250 HELP\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n221 bye\r\n");

        Assert.False(d.Greetingless);
        Assert.Equal([220, 250, 250, 250, 354, 250, 221], d.Replies.Select(r => r.Code));
        Assert.Equal("EHLO>1 MAIL>2 RCPT>3 DATA>4 <end-of-data>>5 QUIT>6", Verbs(d));
        Assert.Equal(5, d.DecidingReplyIndex);
    }

    [Fact]
    public void Empty_data_content_ends_at_the_first_dot_line()
    {
        var d = Follow("HELO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@y>\r\nDATA\r\n.\r\nQUIT\r\n", "220 s\r\n250 s\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n");
        Assert.Equal("HELO>1 MAIL>2 RCPT>3 DATA>4 <end-of-data>>5 QUIT>6", Verbs(d));
    }

    [Fact]
    public void Data_refused_means_no_content_follows()
    {
        var d = Follow("EHLO c\r\nMAIL FROM:<a@b>\r\nDATA\r\nQUIT\r\n", "220 s\r\n250 s\r\n250 ok\r\n554 no valid recipients\r\n221 bye\r\n");
        Assert.Equal("EHLO>1 MAIL>2 DATA>3 QUIT>4", Verbs(d));
        Assert.Equal(-1, d.DecidingReplyIndex);
    }

    [Fact]
    public void Greetingless_bdat_chunks_are_skipped_by_size_and_the_last_one_decides()
    {
        var d = Follow("XID c soft\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 8\r\nQUIT\r\n\r\nBDAT 4 LAST\r\nabcdQUIT\r\n",
            "250 s soft\r\n250 ok\r\n250 ok\r\n250 8 octets\r\n250 queued\r\n221 bye\r\n");
        Assert.True(d.Greetingless);
        Assert.Equal("XID>0 MAIL>1 RCPT>2 BDAT>3 BDAT>4 QUIT>5", Verbs(d));
        Assert.Equal(4, d.DecidingReplyIndex);
    }

    [Fact]
    public void Malformed_or_inconsistent_replies_end_the_reply_list()
    {
        Assert.Equal([220], Follow("", "220 s\r\n250-a\r\n251 b\r\n250 ok\r\n").Replies.Select(r => r.Code));
        Assert.Equal([220], Follow("", "220 s\r\nHTTP/1.1 200 OK\r\n").Replies.Select(r => r.Code));
        Assert.Equal([220, 250], Follow("", "220 s\n250\r\n25").Replies.Select(r => r.Code));   // bare LF and a bare code are tolerated; the cut one is not
    }

    [Fact]
    public void Over_long_lines_starttls_and_oversized_bdat_stop_the_client_side()
    {
        Assert.Empty(Follow(new string('A', SmtpDialogue.MaxLineOctets + 10) + "\r\n", "").Units);
        Assert.Equal("EHLO>1 STARTTLS>2", Verbs(Follow("EHLO c\r\nSTARTTLS\r\n\x16\x03\x01 binary\r\n", "220 s\r\n250 s\r\n220 go\r\n")));
        Assert.Equal("XID>0 BDAT>1", Verbs(Follow("XID c s\r\nBDAT 999999999999 LAST\r\nabc", "")));
        Assert.Equal(-1, Follow("XID c s\r\nBDAT 999999999999 LAST\r\nabc", "").DecidingReplyIndex);
    }

    /// <summary>Arbitrary bytes on either side never make the follower throw or loop.</summary>
    [Property(MaxTest = 300)]
    public bool Never_throws_on_arbitrary_input(byte[] client, byte[] server, bool smtpPrefix)
    {
        client ??= [];
        server ??= [];
        if (smtpPrefix)
        {
            client = [.. "EHLO x\r\nDATA\r\n"u8.ToArray(), .. client];
            server = [.. "220 s\r\n250 s\r\n354 go\r\n"u8.ToArray(), .. server];
        }
        var d = SmtpDialogue.Follow(client, server);
        return d.Units.All(u => u.End <= client.Length) && d.Replies.All(r => r.End <= server.Length);
    }
}
