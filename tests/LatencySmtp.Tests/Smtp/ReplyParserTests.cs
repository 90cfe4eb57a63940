using System.Buffers;
using System.Text;
using LatencySmtp.Smtp;

namespace LatencySmtp.Tests.Smtp;

public class ReplyParserTests
{
    static ReadOnlySequence<byte> Seq(string s) => new(Encoding.UTF8.GetBytes(s));

    static SmtpReply ParseOne(string s)
    {
        var buffer = Seq(s);
        Assert.True(ReplyParser.TryParse(ref buffer, out var reply));
        Assert.Equal(0, buffer.Length);
        return reply!;
    }

    [Fact]
    public void SingleLine()
    {
        var r = ParseOne("250 2.1.0 Ok\r\n");
        Assert.Equal(250, r.Code);
        Assert.Equal(["2.1.0 Ok"], r.Lines);
        Assert.Equal("2.1.0", r.EnhancedStatus);
        Assert.True(r.IsPositiveCompletion);
        Assert.False(r.IsTransientFailure || r.IsPermanentFailure || r.IsPositiveIntermediate);
    }

    [Fact]
    public void MultiLineEhloReply()
    {
        var r = ParseOne("250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 CHUNKING\r\n");
        Assert.Equal(250, r.Code);
        Assert.Equal(["mx.test", "PIPELINING", "SIZE 1000", "CHUNKING"], r.Lines);
        Assert.Null(r.EnhancedStatus);
    }

    [Fact]
    public void CodeOnlyAndEmptyContinuationLines()
    {
        var r = ParseOne("250-\r\n250\r\n");
        Assert.Equal(["", ""], r.Lines);
    }

    [Fact]
    public void NeedsMoreDataLeavesBufferUnchanged()
    {
        foreach (var partial in new[] { "", "2", "250", "250 Ok", "250 Ok\r", "250-a\r\n", "250-a\r\n250 b" })
        {
            var buffer = Seq(partial);
            Assert.False(ReplyParser.TryParse(ref buffer, out var reply));
            Assert.Null(reply);
            Assert.Equal(partial, Encoding.UTF8.GetString(buffer));
        }
    }

    [Fact]
    public void ConsumesOneReplyAtATime()
    {
        var buffer = Seq("220 hi\r\n250-a\r\n250 b\r\n354 go");
        Assert.True(ReplyParser.TryParse(ref buffer, out var r1));
        Assert.Equal(220, r1!.Code);
        Assert.True(ReplyParser.TryParse(ref buffer, out var r2));
        Assert.Equal(["a", "b"], r2!.Lines);
        Assert.False(ReplyParser.TryParse(ref buffer, out _));
        Assert.Equal("354 go", Encoding.UTF8.GetString(buffer));
    }

    [Fact]
    public void ParsesAcrossSegments()
    {
        // One byte per segment: the worst split a pipe can hand over.
        var bytes = Encoding.ASCII.GetBytes("250-first\r\n250 second\r\n");
        Segment? first = null, last = null;
        foreach (var b in bytes)
        {
            var s = new Segment(new[] { b });
            if (first is null) first = last = s;
            else last = last!.Append(s);
        }
        var buffer = new ReadOnlySequence<byte>(first!, 0, last!, 1);
        Assert.True(ReplyParser.TryParse(ref buffer, out var r));
        Assert.Equal(["first", "second"], r!.Lines);
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void BareLfTerminatorIsTolerated() => Assert.Equal(["Ok"], ParseOne("250 Ok\n").Lines);

    [Theory]
    [InlineData("250-a\r\n251 b\r\n")]   // inconsistent codes
    [InlineData("2x0 Ok\r\n")]
    [InlineData("650 Ok\r\n")]           // first digit 2..5 only
    [InlineData("25\r\n")]
    [InlineData("250xOk\r\n")]           // separator must be SP or '-'
    [InlineData("250 a\rb\r\n")]         // CR inside the text
    [InlineData("hello\r\n")]
    public void MalformedRepliesThrow(string text)
    {
        var buffer = Seq(text);
        Assert.Throws<SmtpProtocolException>(() => ReplyParser.TryParse(ref buffer, out _));
    }

    [Fact]
    public void LineLongerThanLimitThrowsWithOrWithoutItsEnd()
    {
        var ok = "250 " + new string('a', 512 - 6) + "\r\n"; // exactly 512 octets
        Assert.Equal(512, ok.Length);
        ParseOne(ok);

        var tooLong = Seq("250 " + new string('a', 512 - 5) + "\r\n");
        Assert.Throws<SmtpProtocolException>(() => ReplyParser.TryParse(ref tooLong, out _));
        // Without a line end yet: fails as soon as it can no longer fit, instead of waiting forever.
        var unterminated = Seq("250 " + new string('a', 600));
        Assert.Throws<SmtpProtocolException>(() => ReplyParser.TryParse(ref unterminated, out _));
        var custom = Seq("250 abcdef\r\n");
        Assert.Throws<SmtpProtocolException>(() => ReplyParser.TryParse(ref custom, out _, maxLineOctets: 8));
    }

    [Fact]
    public void EndlessMultiLineReplyIsBounded()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < ReplyParser.MaxLines + 1; i++) sb.Append("250-x\r\n");
        var buffer = Seq(sb.ToString());
        Assert.Throws<SmtpProtocolException>(() => ReplyParser.TryParse(ref buffer, out _));
    }

    [Fact]
    public void ToBytesRoundTrips()
    {
        var r = new SmtpReply(250, ["mx.test", "PIPELINING", "SIZE 10"]);
        Assert.Equal("250-mx.test\r\n250-PIPELINING\r\n250 SIZE 10\r\n", Encoding.ASCII.GetString(r.ToBytes()));
        var buffer = new ReadOnlySequence<byte>(r.ToBytes());
        Assert.True(ReplyParser.TryParse(ref buffer, out var back));
        Assert.Equal(r, back);
        Assert.Equal("554 5.7.1 no\r\n", Encoding.ASCII.GetString(SmtpReply.Single(554, "5.7.1 no").ToBytes()));
    }

    [Theory]
    [InlineData("2.0.0 Ok", "2.0.0")]
    [InlineData("5.7.123 denied", "5.7.123")]
    [InlineData("4.4.2", "4.4.2")]
    [InlineData("3.0.0 no", null)]
    [InlineData("2.0 Ok", null)]
    [InlineData("2.0.0Ok", null)]
    [InlineData("2.1234.0 x", null)]
    [InlineData("mx.test ESMTP", null)]
    public void EnhancedStatus(string line, string? expected) =>
        Assert.Equal(expected, SmtpReply.Single(250, line).EnhancedStatus);

    [Theory]
    [InlineData(220, false, false, false)]
    [InlineData(354, true, false, false)]
    [InlineData(451, false, true, false)]
    [InlineData(554, false, false, true)]
    public void ReplyClasses(int code, bool intermediate, bool transient, bool permanent)
    {
        var r = SmtpReply.Single(code, "x");
        Assert.Equal(code / 100 == 2, r.IsPositiveCompletion);
        Assert.Equal(intermediate, r.IsPositiveIntermediate);
        Assert.Equal(transient, r.IsTransientFailure);
        Assert.Equal(permanent, r.IsPermanentFailure);
    }

    sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;
        public Segment Append(Segment next)
        {
            next.RunningIndex = RunningIndex + Memory.Length;
            Next = next;
            return next;
        }
    }
}
