using System.Text;
using LatencySmtp.Smtp;

namespace LatencySmtp.Tests.Smtp;

/// <summary>ClientSession and ServerSession joined in memory: whole flights go back and forth.</summary>
public class EndToEndTests
{
    internal sealed record Run(ClientSession Client, List<PendingDelivery> Delivered, int FlightsUntilAccepted, int Flights);

    /// <summary>
    /// Alternates flights: everything the client has written goes to the server, then everything the
    /// server has written goes back. A flight pair is one round trip. chunk splits each flight.
    /// </summary>
    internal static Run Converse(ClientMode clientMode, ServerMode serverMode, MailRequest request, int chunk = 0, SmtpLimits? limits = null)
    {
        var client = new ClientSession(new ClientIdentity("client.example", "Cli/1.0", "tx-1"), request, clientMode, limits);
        var server = new ServerSession(new ServerOptions { HostName = "mx.test", Software = "Srv/1.0", Limits = limits ?? SmtpLimits.Rfc5321 }, serverMode);
        var delivered = new List<PendingDelivery>();
        server.Start();
        client.Start();
        int flights = 0, acceptedAt = -1;
        for (int i = 0; i < 100 && !client.IsDone; i++)
        {
            if (client.HasOutput) Feed(client.TakeOutput(), chunk, server.Receive);
            while (server.PendingDelivery is { } p)
            {
                delivered.Add(p with { Message = p.Message.ToArray() });
                server.CompleteDelivery(new DeliveryResult(true, $"Q{delivered.Count}", null));
            }
            if (!server.HasOutput) break;
            flights++;
            Feed(server.TakeOutput(), chunk, client.Receive);
            if (acceptedAt < 0 && client.Outcome == ClientOutcome.Accepted) acceptedAt = flights;
        }
        return new Run(client, delivered, acceptedAt, flights);
    }

    delegate void Sink(ReadOnlySpan<byte> data);

    static void Feed(byte[] data, int chunk, Sink sink)
    {
        if (chunk <= 0) chunk = Math.Max(1, data.Length);
        for (int i = 0; i < data.Length; i += chunk) sink(data.AsSpan(i, Math.Min(chunk, data.Length - i)));
    }

    static readonly string Message =
        "From: alice@example.org\r\nSubject: test\r\n\r\n.\r\n..two dots\r\n.\r\nend without dot\r\n\r\n";

    public static IEnumerable<object[]> Modes() =>
    [
        [ClientMode.Classic, ServerMode.Classic, 1],
        [ClientMode.Classic, ServerMode.Classic, 3],
        [ClientMode.Pipelined, ServerMode.Classic, 1],
        [ClientMode.Pipelined, ServerMode.Classic, 3],
        [ClientMode.Greetingless, ServerMode.Greetingless, 1],
        [ClientMode.Greetingless, ServerMode.Greetingless, 3],
    ];

    [Theory]
    [MemberData(nameof(Modes))]
    public void DeliveredBytesEqualTheMessage(ClientMode clientMode, ServerMode serverMode, int recipients)
    {
        var to = Enumerable.Range(1, recipients).Select(i => $"rcpt{i}@example.net").ToArray();
        var request = new MailRequest("alice@example.org", to, Encoding.ASCII.GetBytes(Message));
        foreach (var chunk in new[] { 0, 1 })
        {
            var run = Converse(clientMode, serverMode, request, chunk);
            Assert.Equal(ClientOutcome.Accepted, run.Client.Outcome);
            Assert.True(run.Client.IsDone);
            Assert.Equal("2.0.0 Ok: queued as Q1", run.Client.FinalReply!.Text);
            var d = Assert.Single(run.Delivered);
            Assert.Equal(Message, Encoding.ASCII.GetString(d.Message.Span));
            Assert.Equal(to, d.Envelope.Recipients);
            Assert.Equal("alice@example.org", d.Envelope.ReversePath);
            Assert.Equal("client.example", d.Envelope.ClientDomain);
            if (serverMode == ServerMode.Greetingless)
            {
                Assert.Equal("Cli/1.0", d.Envelope.ClientSoftware);
                Assert.Equal("tx-1", d.Envelope.TransactionId);
                Assert.Equal("mx.test Srv/1.0", run.Client.ServerIdentity);
            }
            else Assert.Equal("mx.test ESMTP Srv/1.0", run.Client.ServerIdentity);
        }
    }

    // Server flights the client waits for until it holds the 250 (the TCP handshake adds one more RTT):
    // classic n+5, pipelined with CHUNKING 3, greeting-less 1.
    [Theory]
    [InlineData(ClientMode.Classic, ServerMode.Classic, 1, 6)]
    [InlineData(ClientMode.Classic, ServerMode.Classic, 4, 9)]
    [InlineData(ClientMode.Pipelined, ServerMode.Classic, 4, 3)]
    [InlineData(ClientMode.Greetingless, ServerMode.Greetingless, 1, 1)]
    [InlineData(ClientMode.Greetingless, ServerMode.Greetingless, 4, 1)]
    public void RoundTripsUntilAccepted(ClientMode clientMode, ServerMode serverMode, int recipients, int flights)
    {
        var to = Enumerable.Range(1, recipients).Select(i => $"r{i}@example.net").ToArray();
        var run = Converse(clientMode, serverMode, new MailRequest("a@example.org", to, "m\r\n"u8.ToArray()));
        Assert.Equal(flights, run.FlightsUntilAccepted);
    }

    [Fact]
    public void EmptyMessageAndNullReversePath()
    {
        foreach (var (c, s) in new[] { (ClientMode.Classic, ServerMode.Classic), (ClientMode.Greetingless, ServerMode.Greetingless) })
        {
            var run = Converse(c, s, new MailRequest("", ["postmaster"], Array.Empty<byte>()));
            Assert.Equal(ClientOutcome.Accepted, run.Client.Outcome);
            var d = Assert.Single(run.Delivered);
            Assert.Equal(0, d.Message.Length);
            Assert.Equal("", d.Envelope.ReversePath);
        }
    }

    [Fact]
    public void GreetinglessClientAgainstClassicServerIsRejected()
    {
        var run = Converse(ClientMode.Greetingless, ServerMode.Classic, new MailRequest("a@b.c", ["d@e.f"], "m\r\n"u8.ToArray()));
        Assert.Equal(ClientOutcome.Rejected, run.Client.Outcome);
        Assert.Equal(500, run.Client.FinalReply!.Code);
        Assert.Empty(run.Delivered);
    }

    [Fact]
    public void OversizedMessageIsRefusedUpFront()
    {
        var limits = new SmtpLimits { MaxMessageOctets = 10 };
        foreach (var (c, s) in new[] { (ClientMode.Classic, ServerMode.Classic), (ClientMode.Greetingless, ServerMode.Greetingless) })
        {
            var run = Converse(c, s, new MailRequest("a@b.c", ["d@e.f"], new byte[11]), limits: limits);
            Assert.Equal(ClientOutcome.Rejected, run.Client.Outcome);
            Assert.Equal(552, run.Client.FinalReply!.Code);
            Assert.Empty(run.Delivered);
        }
    }
}
