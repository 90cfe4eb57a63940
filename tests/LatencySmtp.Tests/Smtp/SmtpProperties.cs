using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using LatencySmtp.Smtp;

namespace LatencySmtp.Tests.Smtp;

/// <summary>A message whose lines all end in CRLF (any other bytes, dots favoured).</summary>
public sealed record CrlfMessage(byte[] Bytes, int Chunk)
{
    public override string ToString() => $"{Chunk}: {Encoding.Latin1.GetString(Bytes).Replace("\r", "\\r").Replace("\n", "\\n")}";
}

/// <summary>Bytes for a server session, built from SMTP fragments and noise, and chunk sizes to split them.</summary>
public sealed record ServerInput(ServerMode Mode, byte[] Bytes, int[] Chunks)
{
    public override string ToString() => $"{Mode} [{string.Join(",", Chunks)}] {Encoding.Latin1.GetString(Bytes).Replace("\r", "\\r").Replace("\n", "\\n")}";
}

/// <summary>A command line candidate: a verb prefix and arbitrary bytes.</summary>
public sealed record CommandLine(byte[] Bytes)
{
    public override string ToString() => Encoding.Latin1.GetString(Bytes);
}

public static class SmtpArbitraries
{
    static readonly Gen<byte> AnyByte = Gen.Choose(0, 255).Select(i => (byte)i);

    static readonly Gen<byte> TextByte = Gen.Frequency(
        (3, Gen.Constant((byte)'.')),
        (1, Gen.Constant((byte)' ')),
        (8, AnyByte.Where(b => b != '\r' && b != '\n')));

    static readonly Gen<int> ChunkSize = Gen.Frequency((3, Gen.Choose(1, 3)), (2, Gen.Choose(4, 64)), (1, Gen.Constant(100_000)));

    public static Arbitrary<CrlfMessage> CrlfMessages() =>
        (from lines in Gen.ListOf(Gen.ArrayOf(TextByte))
         from chunk in ChunkSize
         select new CrlfMessage(lines.SelectMany(l => l.Concat("\r\n"u8.ToArray())).ToArray(), chunk)).ToArbitrary();

    static readonly string[] Fragments =
    [
        "EHLO c\r\n", "HELO c\r\n", "XID c sw TXID=1\r\n", "MAIL FROM:<a@b.c>\r\n", "MAIL FROM:<>\r\n",
        "MAIL FROM:<a@b.c> SIZE=5\r\n", "RCPT TO:<d@e.f>\r\n", "RCPT TO:<Postmaster>\r\n", "DATA\r\n", "BDAT 3\r\n",
        "BDAT 5 LAST\r\n", "BDAT 0 LAST\r\n", "RSET\r\n", "NOOP\r\n", "QUIT\r\n", "VRFY x\r\n", "\r\n.\r\n", ".\r\n",
        "..\r\n", "\r\n", "\n", "\r", ".", "\n.\n", "\r.\r", "text", "bdat 2 last\r\n", "FOO\r\n",
    ];

    public static Arbitrary<ServerInput> ServerInputs()
    {
        var fragment = Gen.Frequency(
            (12, Gen.Elements(Fragments).Select(f => Encoding.ASCII.GetBytes(f))),
            (2, Gen.ArrayOf(AnyByte)),
            (1, Gen.Choose(400, 1200).Select(n => Encoding.ASCII.GetBytes(new string('x', n)))));
        // Whole transaction openings make deliveries (and their refusals) common, not lucky.
        var opening = Gen.Elements(
            "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n", "MAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 4 LAST\r\n",
            "MAIL FROM:<>\r\nRCPT TO:<d@e.f>\r\nBDAT 2\r\n").Select(f => Encoding.ASCII.GetBytes(f));
        var identification = Gen.Elements("", "EHLO c\r\n", "XID c sw\r\n").Select(f => Encoding.ASCII.GetBytes(f));
        return (from mode in Gen.Elements(ServerMode.Classic, ServerMode.Greetingless)
                from id in identification
                from parts in Gen.ListOf(Gen.Frequency((1, opening), (4, fragment)))
                from chunks in Gen.NonEmptyListOf(ChunkSize)
                select new ServerInput(mode, id.Concat(parts.SelectMany(p => p)).ToArray(), chunks.ToArray())).ToArbitrary();
    }

    static readonly string[] Prefixes =
    [
        "", "EHLO ", "HELO ", "XID ", "MAIL FROM:<", "mail from:", "RCPT TO:<", "RCPT TO:<\"", "BDAT ", "DATA", "NOOP ",
        "MAIL FROM:<@", "RCPT TO:<a@[", "MAIL FROM:<a@b.c> ", "XID c sw TXID=",
    ];

    public static Arbitrary<CommandLine> CommandLines()
    {
        var tail = Gen.ArrayOf(Gen.Frequency(
            (4, Gen.Elements("<>@.:[]\"\\ =,-0123456789aZ".Select(c => (byte)c).ToArray())),
            (1, AnyByte)));
        return (from prefix in Gen.Elements(Prefixes)
                from t in tail
                select new CommandLine(Encoding.ASCII.GetBytes(prefix).Concat(t).ToArray())).ToArbitrary();
    }
}

/// <summary>Fixed seeds: the properties are deterministic, like every other test here.</summary>
[Properties(Arbitrary = [typeof(SmtpArbitraries)], Replay = "(20251203,1234567)", MaxTest = 300)]
public class SmtpProperties
{
    [Property]
    public void DotStuffingRoundTrips(CrlfMessage message)
    {
        var stuffed = DotStuffing.Stuff(message.Bytes);
        var h = new ServerHarness(ServerMode.Classic).Feed("EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n");
        h.Feed(stuffed, message.Chunk);
        var d = Assert.Single(h.Delivered);
        Assert.Equal(message.Bytes, d.Message.ToArray());
    }

    [Property]
    public void ClientAndServerAgreeOnAnyCrlfMessage(CrlfMessage message)
    {
        foreach (var (c, s) in new[] { (ClientMode.Classic, ServerMode.Classic), (ClientMode.Pipelined, ServerMode.Classic), (ClientMode.Greetingless, ServerMode.Greetingless) })
        {
            var run = EndToEndTests.Converse(c, s, new MailRequest("a@b.c", ["d@e.f"], message.Bytes), message.Chunk);
            Assert.Equal(ClientOutcome.Accepted, run.Client.Outcome);
            Assert.Equal(message.Bytes, Assert.Single(run.Delivered).Message.ToArray());
        }
    }

    [Property]
    public void ServerNeverThrowsAndSplittingChangesNothing(ServerInput input)
    {
        var whole = Drive(input.Mode, input.Bytes, [int.MaxValue]);
        var split = Drive(input.Mode, input.Bytes, input.Chunks);
        Assert.Equal(whole.Text, split.Text);
        Assert.Equal(whole.Delivered.Select(d => d.Message.ToArray()), split.Delivered.Select(d => d.Message.ToArray()));
        // At most one delivery per possible end of data: LF "." CRLF for DATA, LAST for BDAT.
        var text = Encoding.Latin1.GetString(input.Bytes);
        int ends = Count(text, "\n.\r\n") + Count(text.ToUpperInvariant(), "LAST");
        Assert.True(split.Delivered.Count <= ends, $"{split.Delivered.Count} deliveries, {ends} possible ends");
        Assert.True(split.Session.IsClosed);
    }

    /// <summary>Guards the property above against passing vacuously: its inputs do reach deliveries and refusals.</summary>
    [Fact]
    public void ServerInputsCoverDeliveriesAndRefusals()
    {
        var samples = SmtpArbitraries.ServerInputs().Generator.Sample(50, new Rnd(20251203UL, 1234567UL), 300);
        var runs = samples.Select(i => Drive(i.Mode, i.Bytes, i.Chunks)).ToArray();
        Assert.True(runs.Sum(r => r.Delivered.Count) >= 20, $"only {runs.Sum(r => r.Delivered.Count)} deliveries");
        var replies = runs.SelectMany(r => r.Replies).ToArray();
        foreach (var code in new[] { "250 2.0.0 Ok: queued", "354 ", "500 5.5.2 Line too long", "550 5.6.2", "552 5.3.4", "503 ", "221 " })
            Assert.Contains(replies, r => r.StartsWith(code, StringComparison.Ordinal));
    }

    static ServerHarness Drive(ServerMode mode, byte[] bytes, int[] chunks)
    {
        var h = new ServerHarness(mode, new SmtpLimits { MaxMessageOctets = 64, MaxRecipients = 3 });
        int i = 0, k = 0;
        while (i < bytes.Length)
        {
            int n = (int)Math.Min(chunks[k++ % chunks.Length], bytes.Length - i);
            h.Feed(bytes.AsSpan(i, n).ToArray());
            i += n;
        }
        h.Session.ReceiveEnd();
        h.Drain();
        return h;
    }

    static int Count(string s, string what)
    {
        int n = 0;
        for (int i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }

    [Property]
    public void CommandParserNeverThrows(CommandLine line)
    {
        foreach (var limits in new[] { SmtpLimits.Rfc5321, new SmtpLimits { MaxCommandLineOctets = 20, MaxLocalPartOctets = 3, MaxDomainOctets = 5, MaxPathOctets = 12 } })
        {
            bool ok = CommandParser.TryParse(line.Bytes, limits, out var cmd, out var err);
            if (ok)
            {
                Assert.NotNull(cmd);
                Assert.Null(err);
                Assert.NotEqual(SmtpVerb.Unknown, cmd!.Verb);
                if (cmd.Verb is SmtpVerb.Mail or SmtpVerb.Rcpt) Assert.NotNull(cmd.Path);
                if (cmd.Verb is SmtpVerb.Ehlo or SmtpVerb.Helo or SmtpVerb.Xid) Assert.False(string.IsNullOrEmpty(cmd.Domain));
            }
            else
            {
                Assert.Null(cmd);
                Assert.Contains(err!.Code, new[] { 500, 501, 504, 555 });
                Assert.NotNull(err.EnhancedStatus);
            }
        }
    }

    [Property]
    public void ClientNeverThrowsOnAnyServerBytes(ServerInput input)
    {
        foreach (var mode in new[] { ClientMode.Classic, ClientMode.Pipelined, ClientMode.Greetingless })
        {
            var s = new ClientSession(new ClientIdentity("c", "sw", null), new MailRequest("a@b.c", ["d@e.f"], "m\r\n"u8.ToArray()), mode);
            s.Start();
            int i = 0, k = 0;
            while (i < input.Bytes.Length)
            {
                int n = (int)Math.Min(input.Chunks[k++ % input.Chunks.Length], input.Bytes.Length - i);
                s.Receive(input.Bytes.AsSpan(i, n));
                s.TakeOutput();
                i += n;
            }
            s.ReceiveEnd();
            Assert.True(s.IsDone);
            Assert.NotEqual(ClientOutcome.Pending, s.Outcome);
            if (s.Outcome == ClientOutcome.Failed) Assert.False(string.IsNullOrEmpty(s.Error));
        }
    }
}
