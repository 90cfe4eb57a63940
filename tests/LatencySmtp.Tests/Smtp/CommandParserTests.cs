using System.Text;
using LatencySmtp.Smtp;

namespace LatencySmtp.Tests.Smtp;

public class CommandParserTests
{
    static SmtpCommand Ok(string line, SmtpLimits? limits = null)
    {
        Assert.True(CommandParser.TryParse(Encoding.UTF8.GetBytes(line), limits ?? SmtpLimits.Rfc5321, out var cmd, out var err),
            $"'{line}' was refused: {err}");
        Assert.Null(err);
        return cmd!;
    }

    static SmtpReply Refused(string line, SmtpLimits? limits = null) => Refused(Encoding.UTF8.GetBytes(line), limits);

    static SmtpReply Refused(byte[] line, SmtpLimits? limits = null)
    {
        Assert.False(CommandParser.TryParse(line, limits ?? SmtpLimits.Rfc5321, out var cmd, out var err));
        Assert.Null(cmd);
        return err!;
    }

    [Theory]
    [InlineData("EHLO client.example", "client.example")]
    [InlineData("ehlo client.example ", "client.example")]
    [InlineData("HELO localhost", "localhost")]
    [InlineData("EHLO [192.0.2.1]", "[192.0.2.1]")]
    [InlineData("EHLO [IPv6:2001:db8::1]", "[IPv6:2001:db8::1]")]
    [InlineData("EHLO my_host.example", "my_host.example")]
    public void Hello(string line, string domain)
    {
        var c = Ok(line);
        Assert.True(c.Verb is SmtpVerb.Ehlo or SmtpVerb.Helo);
        Assert.Equal(domain, c.Domain);
    }

    [Theory]
    [InlineData("EHLO")]
    [InlineData("EHLO a b")]
    [InlineData("EHLO -bad.example")]
    [InlineData("EHLO bad..example")]
    [InlineData("EHLO [300.1.1.1]")]
    [InlineData("EHLO [1.2.3]")]
    [InlineData("HELO a@b")]
    public void BadHello(string line) => Assert.Equal(501, Refused(line).Code);

    [Fact]
    public void DomainTooLong()
    {
        var label = new string('a', 63);
        var domain = string.Join('.', label, label, label, label); // 255 octets
        Assert.Equal(domain, Ok("EHLO " + domain).Domain);
        var r = Refused("EHLO x" + domain);
        Assert.Equal(501, r.Code);
        Assert.Contains("too long", r.Text);
    }

    [Fact]
    public void MailWithParameters()
    {
        var c = Ok("MAIL FROM:<alice@example.org> size=1234 BODY=8BITMIME SMTPUTF8");
        Assert.Equal(SmtpVerb.Mail, c.Verb);
        Assert.Equal("alice@example.org", c.Path);
        Assert.Equal("1234", c.Parameters["SIZE"]);
        Assert.Equal("8BITMIME", c.Parameters["BODY"]);
        Assert.True(c.Parameters.ContainsKey("SMTPUTF8"));
        Assert.Null(c.Parameters["SMTPUTF8"]);
    }

    [Theory]
    [InlineData("MAIL FROM:<>", "")]
    [InlineData("mail from:<a@b.c>", "a@b.c")]
    [InlineData("MAIL FROM: <a@b.c>", "a@b.c")]
    [InlineData("MAIL FROM:<@relay.example,@r2.example:joe@example.com>", "joe@example.com")]
    [InlineData("MAIL FROM:<\"john smith\"@example.com>", "\"john smith\"@example.com")]
    [InlineData("MAIL FROM:<\"a\\\"b\"@example.com>", "\"a\\\"b\"@example.com")]
    [InlineData("MAIL FROM:<first.last+tag@[192.0.2.7]>", "first.last+tag@[192.0.2.7]")]
    [InlineData("MAIL FROM:<用户@例子.广告> SMTPUTF8", "用户@例子.广告")]
    public void MailPaths(string line, string path) => Assert.Equal(path, Ok(line).Path);

    [Theory]
    [InlineData("MAIL TO:<a@b.c>")]
    [InlineData("MAIL FROM:a@b.c")]
    [InlineData("MAIL FROM:<a@b.c")]
    [InlineData("MAIL FROM:<a.@b.c>")]
    [InlineData("MAIL FROM:<.a@b.c>")]
    [InlineData("MAIL FROM:<a..b@c.d>")]
    [InlineData("MAIL FROM:<a@>")]
    [InlineData("MAIL FROM:<ab.c>")]
    [InlineData("MAIL FROM:<a b@c.d>")]
    [InlineData("MAIL FROM:<a@b.c>SIZE=1")]
    [InlineData("MAIL FROM:<postmaster>")]
    [InlineData("MAIL FROM:<@relay:>")]
    [InlineData("MAIL FROM:<a@b.c> SIZE=x")]
    [InlineData("MAIL FROM:<a@b.c> SIZE=1 SIZE=2")]
    [InlineData("MAIL FROM:<a@b.c> =x")]
    [InlineData("MAIL")]
    public void BadMail(string line) => Assert.Equal(501, Refused(line).Code);

    [Fact]
    public void AddressErrorsUseAddressStatusCodes()
    {
        Assert.Equal("5.1.7", Refused("MAIL FROM:<a@>").EnhancedStatus);
        Assert.Equal("5.1.3", Refused("RCPT TO:<a@>").EnhancedStatus);
    }

    [Fact]
    public void UnsupportedParameters()
    {
        Assert.Equal(555, Refused("MAIL FROM:<a@b.c> RET=HDRS").Code);
        Assert.Equal(555, Refused("RCPT TO:<a@b.c> NOTIFY=NEVER").Code);
        Assert.Equal(504, Refused("MAIL FROM:<a@b.c> BODY=BINARYMIME").Code);
        Assert.Equal(501, Refused("MAIL FROM:<a@b.c> SMTPUTF8=yes").Code);
    }

    [Fact]
    public void PathLimits()
    {
        var local64 = new string('l', 64);
        Assert.Equal(local64 + "@b.c", Ok($"RCPT TO:<{local64}@b.c>").Path);
        var r = Refused($"RCPT TO:<{local64}l@b.c>");
        Assert.Equal(501, r.Code);
        Assert.Contains("local part too long", r.Text);

        // <64 @ 189> = 256 octets: the limit; one more label octet is too long.
        var domain189 = string.Join('.', new string('d', 63), new string('d', 63), new string('d', 61));
        Assert.Equal(189, domain189.Length);
        Ok($"RCPT TO:<{local64}@{domain189}>");
        var tooLong = Refused($"RCPT TO:<{local64}@{domain189}d>");
        Assert.Contains("path too long", tooLong.Text);
        // A lower configured limit applies.
        Assert.Equal(501, Refused("RCPT TO:<abcdef@b.c>", new SmtpLimits { MaxLocalPartOctets = 5 }).Code);
    }

    [Theory]
    [InlineData("RCPT TO:<Postmaster>", "Postmaster")]
    [InlineData("RCPT TO:<postmaster@mx.test>", "postmaster@mx.test")]
    [InlineData("rcpt to: <bob@example.net>", "bob@example.net")]
    public void Rcpt(string line, string path)
    {
        var c = Ok(line);
        Assert.Equal(SmtpVerb.Rcpt, c.Verb);
        Assert.Equal(path, c.Path);
    }

    [Theory]
    [InlineData("RCPT TO:<>")]
    [InlineData("RCPT FROM:<a@b.c>")]
    [InlineData("RCPT TO:<Postmasterx>")]
    public void BadRcpt(string line) => Assert.Equal(501, Refused(line).Code);

    [Theory]
    [InlineData("BDAT 0 LAST", 0L, true)]
    [InlineData("BDAT 1048576", 1048576L, false)]
    [InlineData("bdat 12 last", 12L, true)]
    public void Bdat(string line, long size, bool last)
    {
        var c = Ok(line);
        Assert.Equal(SmtpVerb.Bdat, c.Verb);
        Assert.Equal(size, c.BdatSize);
        Assert.Equal(last, c.BdatLast);
    }

    [Theory]
    [InlineData("BDAT")]
    [InlineData("BDAT x")]
    [InlineData("BDAT -1")]
    [InlineData("BDAT 10 FIRST")]
    [InlineData("BDAT 10 LAST x")]
    [InlineData("BDAT 9999999999999999999")]
    public void BadBdat(string line) => Assert.Equal(501, Refused(line).Code);

    [Fact]
    public void Xid()
    {
        var c = Ok("XID client.example LatencySmtp/0.1.0 TXID=abc-123");
        Assert.Equal(SmtpVerb.Xid, c.Verb);
        Assert.Equal("client.example", c.Domain);
        Assert.Equal("LatencySmtp/0.1.0", c.Software);
        Assert.Equal("abc-123", c.TransactionId);
        var bare = Ok("XID [10.0.0.1] x/1");
        Assert.Null(bare.TransactionId);
        Assert.Equal("[10.0.0.1]", bare.Domain);
    }

    [Theory]
    [InlineData("XID", 501)]
    [InlineData("XID client.example", 501)]
    [InlineData("XID client.example sw TXID=", 501)]
    [InlineData("XID client.example sw TXID=a b", 501)]
    [InlineData("XID client.example sw FOO=1", 555)]
    [InlineData("XID -x sw", 501)]
    public void BadXid(string line, int code) => Assert.Equal(code, Refused(line).Code);

    [Theory]
    [InlineData("DATA", SmtpVerb.Data)]
    [InlineData("rset", SmtpVerb.Rset)]
    [InlineData("NOOP", SmtpVerb.Noop)]
    [InlineData("NOOP anything goes", SmtpVerb.Noop)]
    [InlineData("QUIT", SmtpVerb.Quit)]
    [InlineData("HELP", SmtpVerb.Help)]
    [InlineData("HELP MAIL", SmtpVerb.Help)]
    [InlineData("VRFY bob", SmtpVerb.Vrfy)]
    public void SimpleCommands(string line, SmtpVerb verb) => Assert.Equal(verb, Ok(line).Verb);

    [Theory]
    [InlineData("DATA now", 501)]
    [InlineData("QUIT please", 501)]
    [InlineData("RSET x", 501)]
    [InlineData("VRFY", 501)]
    [InlineData("STARTTLS", 500)]
    [InlineData("", 500)]
    [InlineData(" EHLO x", 500)]
    [InlineData("MAILFROM:<a@b.c>", 500)]
    public void RefusedCommands(string line, int code) => Assert.Equal(code, Refused(line).Code);

    [Fact]
    public void UnknownCommandIs500_5_5_2()
    {
        var r = Refused("FOO bar");
        Assert.Equal(500, r.Code);
        Assert.Equal("5.5.2", r.EnhancedStatus);
    }

    [Fact]
    public void LineTooLong()
    {
        var line = "NOOP " + new string('x', 510 - 5); // 510 + CRLF = 512: fits
        Ok(line);
        var r = Refused(line + "x");
        Assert.Equal(500, r.Code);
        Assert.Contains("Line too long", r.Text);
    }

    [Fact]
    public void ControlCharactersAndInvalidUtf8AreSyntaxErrors()
    {
        Assert.Equal(501, Refused("NOOP a\0b").Code);
        Assert.Equal(501, Refused("NOOP a\rb").Code);
        Assert.Equal(501, Refused(new byte[] { (byte)'N', (byte)'O', (byte)'O', (byte)'P', (byte)' ', 0xFF, 0xFE }).Code);
    }
}
