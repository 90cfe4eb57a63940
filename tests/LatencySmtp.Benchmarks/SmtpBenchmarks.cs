using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using LatencySmtp.Smtp;

namespace LatencySmtp.Benchmarks;

/// <summary>The SMTP hot path: parsing what a server reads and what a client reads, per transaction.</summary>
[MemoryDiagnoser]
public class SmtpBenchmarks
{
    private byte[] _request = [];
    private byte[] _classicDialogue = [];
    private byte[] _replies = [];
    private readonly byte[] _line = "RCPT TO:<recipient.name@example.net> NOTIFY=NEVER"u8.ToArray();

    [GlobalSetup]
    public void Setup()
    {
        var message = Encoding.ASCII.GetBytes("Subject: bench\r\n\r\n" + string.Concat(Enumerable.Repeat("line of text for the benchmark body\r\n", 28)));
        _request = GreetinglessRequest.Build(new ClientIdentity("client.example.org", "LatencySmtp/0.1.0", "tx1"),
            new MailRequest("a@example.org", ["b@example.net"], message));
        _classicDialogue = Encoding.ASCII.GetBytes("EHLO client.example.org\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n")
            .Concat(message).Concat(".\r\nQUIT\r\n"u8.ToArray()).ToArray();
        _replies = "250 mx LatencySmtp/0.1.0\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as 1\r\n221 2.0.0 Bye\r\n"u8.ToArray();
    }

    [Benchmark]
    public bool ParseCommandLine() => CommandParser.TryParse(_line, SmtpLimits.Rfc5321, out _, out _);

    [Benchmark]
    public int ServerGreetinglessTransaction()
    {
        var s = new ServerSession(new ServerOptions(), ServerMode.Greetingless);
        s.Start();
        s.Receive(_request);
        if (s.PendingDelivery is not null) s.CompleteDelivery(new DeliveryResult(true, "1", null));
        return s.TakeOutput().Length;
    }

    [Benchmark]
    public int ServerClassicTransaction()
    {
        var s = new ServerSession(new ServerOptions(), ServerMode.Classic);
        s.Start();
        s.Receive(_classicDialogue);
        if (s.PendingDelivery is not null) s.CompleteDelivery(new DeliveryResult(true, "1", null));
        return s.TakeOutput().Length;
    }

    [Benchmark]
    public int ParseReplies()
    {
        var buffer = new ReadOnlySequence<byte>(_replies);
        var n = 0;
        while (ReplyParser.TryParse(ref buffer, out _)) n++;
        return n;
    }
}
