using System.Text;
using LatencySmtp.Smtp;
using LatencySmtp.Tcp;
using LatencySmtp.Transport.Delivery;
using Xunit.Abstractions;

namespace LatencySmtp.Tests.Tcp;

/// <summary>
/// Exactly-once at the mail level: the in-memory link with virtual time, a greeting-less
/// <see cref="ServerSession"/> as the server application, and <see cref="ExactlyOnceDelivery"/> on a
/// real Maildir whose ledger clock is the link's virtual clock.
/// </summary>
public sealed class ExactlyOnceTransactionTests : IDisposable
{
    private static readonly DateTimeOffset Epoch = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);
    private readonly string _root = Directory.CreateTempSubdirectory("lsm-once-").FullName;
    private readonly ITestOutputHelper _output;
    private readonly InMemoryLink _link = new();
    private readonly Maildir _box;
    private readonly ExactlyOnceDelivery _store;

    public ExactlyOnceTransactionTests(ITestOutputHelper output)
    {
        _output = output;
        _box = new Maildir(Path.Combine(_root, "Maildir"));
        _store = new ExactlyOnceDelivery(_box, new TransactionLedger(TransactionLedger.PathBeside(_box),
            TransactionLedger.DefaultWindow, clock: () => Epoch + _link.Now));
        _link.ServeSmtp(_store);
    }

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_root, true);
    }

    private static readonly MailRequest Mail = new("a@example.org", ["b@example.net"], "Subject: hi\r\n\r\nhello\r\n"u8.ToArray());

    private static ClientSession NewSession(string txid) =>
        new(new ClientIdentity("client.example", "test/1", txid), Mail, ClientMode.Greetingless);

    /// <summary>Runs one transaction to the end; the client session holds what came back.</summary>
    private (Tcb Tcb, ClientSession Session) Transact(string txid)
    {
        var session = NewSession(txid);
        session.Start();
        var tcb = _link.Connect(session.TakeOutput());
        Assert.True(_link.Run(() => tcb.IsTerminated, _link.Now + Limit), "client did not terminate");
        var bytes = new byte[tcb.Available];
        tcb.Read(bytes);
        session.Receive(bytes);
        session.ReceiveEnd();
        return (tcb, session);
    }

    private static string QueueId(ClientSession s) =>
        s.FinalReply!.Text.Split("queued as ") is [_, var id] ? id : throw new InvalidOperationException(s.FinalReply.Text);

    [Fact]
    public void A_client_retry_after_a_lost_response_gets_the_original_250_and_no_second_delivery()
    {
        Transact("tx-0");                                        // warm TAO: the next SYN's data is accepted at once
        // Every server segment is lost: the server delivers, the client never hears and gives up.
        _link.DropFilter = p => p.Direction == InMemoryLink.Direction.ToClient;
        var (lost, lostSession) = Transact("tx-1");
        Assert.Equal("retransmission limit reached", lost.Error);
        Assert.NotEqual(ClientOutcome.Accepted, lostSession.Outcome);
        Assert.Equal(2, _box.NewMessages().Count);
        var stored = Path.GetFileName(_box.NewMessages()[1]);

        // An hour later (virtual time) the application retries the same TXID on a new connection.
        _link.DropFilter = null;
        _link.RunUntilQuiet(_link.Now + TimeSpan.FromHours(1));
        var (retry, session) = Transact("tx-1");
        Assert.Null(retry.Error);
        Assert.Equal(ClientOutcome.Accepted, session.Outcome);
        Assert.Equal(stored, QueueId(session));
        Assert.Equal(3, _link.Deliveries.Count);                 // TCP handed tx-1 up twice...
        Assert.Equal(2, _box.NewMessages().Count);               // ...the mail was stored once
        Assert.Equal(1, _store.Duplicates);
    }

    [Fact]
    public void A_SYN_replayed_long_after_fails_the_TAO_test_and_is_never_acted_on()
    {
        Transact("tx-0");                                        // first contact: the server learns our CC
        _link.Sent.Clear();
        var (_, s) = Transact("tx-1");                           // TAO pass: one segment carries everything
        Assert.Equal(ClientOutcome.Accepted, s.Outcome);
        var syn = _link.Sent.First(p => p.Segment.Has(TcpFlags.Syn) && p.Direction == InMemoryLink.Direction.ToServer).Segment;
        Assert.NotNull(syn.Options.CC);
        Assert.Equal(2, _box.NewMessages().Count);

        // Ten minutes later, past 2 MSL and the listener's tombstones, the very SYN comes back.
        _link.RunUntilQuiet(_link.Now + TimeSpan.FromMinutes(10));
        _link.Sent.Clear();
        var tcb = _link.Listener.OnSegment(InMemoryLink.ClientAddress, InMemoryLink.ServerAddress, syn, _link.Now);
        Assert.NotNull(tcb);
        Assert.False(tcb!.TaoPassed);                            // its CC is not above the cached one
        _link.RunUntilQuiet(_link.Now + Limit);
        _output.WriteLine(InMemoryLink.Describe(_link.Sent));
        // The SYN-ACK reached a client with no such connection: RST, and the data never went up.
        Assert.Contains(_link.Sent, p => p.Direction == InMemoryLink.Direction.ToServer && p.Segment.Has(TcpFlags.Rst));
        Assert.Equal(2, _link.Deliveries.Count);
        Assert.Equal(2, _box.NewMessages().Count);
    }

    [Fact]
    public void A_replay_that_completes_a_handshake_hours_later_gets_the_original_250()
    {
        // The strongest replayer: on path, it resends the request bytes on a connection it completes itself.
        var (_, first) = Transact("tx-1");
        var id = QueueId(first);
        _link.RunUntilQuiet(_link.Now + TimeSpan.FromHours(6));
        var (_, replay) = Transact("tx-1");
        Assert.Equal(ClientOutcome.Accepted, replay.Outcome);
        Assert.Equal(id, QueueId(replay));
        Assert.Single(_box.NewMessages());
        Assert.Equal(2, _link.Deliveries.Count);
    }

    [Fact]
    public void Duplicated_and_reordered_segments_never_store_a_mail_twice()
    {
        var link = _link;
        link.Duplication = 0.5;
        link.Reordering = 0.5;
        for (int i = 0; i < 20; i++)
        {
            var (tcb, s) = Transact($"tx-{i}");
            Assert.Equal(ClientOutcome.Accepted, s.Outcome);
            Assert.Null(tcb.Error);
        }
        Assert.Equal(20, _box.NewMessages().Count);
        Assert.Equal(20, _store.Delivered);
    }
}
