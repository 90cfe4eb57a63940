using System.Text;
using LatencySmtp.Smtp;

namespace LatencySmtp.Tests.Smtp;

/// <summary>Adversarial review: `send --variant classic` refused an ordinary LF-only .eml (550 bare LF) that BDAT carried.</summary>
public class MessageTextTests
{
    [Theory]
    [InlineData("Subject: lf\n\nline1\nline2\n", "Subject: lf\r\n\r\nline1\r\nline2\r\n")]
    [InlineData("a\r\nb\nc", "a\r\nb\r\nc")]
    [InlineData("\n", "\r\n")]
    [InlineData("already\r\ncrlf\r\n", "already\r\ncrlf\r\n")]
    [InlineData("lone\rcr\n", "lone\rcr\r\n")]
    [InlineData("", "")]
    public void Bare_LF_becomes_CRLF_and_nothing_else_changes(string file, string wire) =>
        Assert.Equal(wire, Encoding.ASCII.GetString(MessageText.WithCrlfLineEnds(Encoding.ASCII.GetBytes(file))));

    [Fact]
    public void An_LF_only_message_is_accepted_through_DATA_with_the_same_bytes_as_BDAT_carries()
    {
        var wire = MessageText.WithCrlfLineEnds("Subject: lf\n\n.line\nend\n"u8);
        var server = new ServerSession(new ServerOptions { HostName = "mx.example" }, ServerMode.Classic);
        server.Start();
        server.TakeOutput();
        server.Receive(Encoding.ASCII.GetBytes("EHLO c.example\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n"));
        server.Receive(DotStuffing.Stuff(wire));
        Assert.NotNull(server.PendingDelivery);
        Assert.Equal(wire, server.PendingDelivery!.Message.ToArray());
    }
}
