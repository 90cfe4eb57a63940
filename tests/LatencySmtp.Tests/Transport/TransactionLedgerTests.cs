using System.Text;
using LatencySmtp.Smtp;
using LatencySmtp.Tcp;
using LatencySmtp.Transport.Delivery;

namespace LatencySmtp.Tests.Transport;

public sealed class TransactionLedgerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lsm-ledger-").FullName;
    private DateTimeOffset _now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    public void Dispose() => Directory.Delete(_root, true);

    private Maildir Box() => new(Path.Combine(_root, "Maildir"));

    private ExactlyOnceDelivery Store(Maildir box, TimeSpan? window = null, int capacity = 100_000) =>
        new(box, new TransactionLedger(TransactionLedger.PathBeside(box), window ?? TimeSpan.FromHours(24), capacity, () => _now));

    private static PendingDelivery Mail(string? txid, string body = "Subject: x\r\n\r\nhello\r\n", string domain = "client.example") =>
        new(new MailEnvelope(domain, "a@example.org", ["b@example.net"], "test/1", txid), Encoding.ASCII.GetBytes(body));

    [Fact]
    public void A_repeated_TXID_gets_the_original_queue_id_and_is_stored_once()
    {
        var box = Box();
        using var store = Store(box);
        var first = store.Deliver(Mail("t1"));
        var again = store.Deliver(Mail("t1"));
        Assert.True(first.Success);
        Assert.True(again.Success);
        Assert.Equal(first.QueueId, again.QueueId);
        Assert.Single(box.NewMessages());
        Assert.Equal((1, 1), (store.Delivered, store.Duplicates));
        // Another TXID, or the same TXID from another client domain, is another transaction.
        Assert.NotEqual(first.QueueId, store.Deliver(Mail("t2")).QueueId);
        Assert.NotEqual(first.QueueId, store.Deliver(Mail("t1", domain: "other.example")).QueueId);
        Assert.Equal(3, box.NewMessages().Count);
    }

    [Fact]
    public void Without_TXID_every_request_is_delivered()
    {
        var box = Box();
        using var store = Store(box);
        store.Deliver(Mail(null));
        store.Deliver(Mail(null));
        Assert.Equal(2, box.NewMessages().Count);
        Assert.Equal(0, store.Duplicates);
    }

    [Fact]
    public void A_TXID_reused_for_another_message_is_refused_not_stored()
    {
        var box = Box();
        using var store = Store(box);
        Assert.True(store.Deliver(Mail("t1")).Success);
        var other = store.Deliver(Mail("t1", body: "Subject: y\r\n\r\nother\r\n"));
        Assert.False(other.Success);
        Assert.Contains("TXID", other.Error);
        Assert.Single(box.NewMessages());
        Assert.Equal(1, store.Conflicts);
    }

    [Fact]
    public void The_ledger_survives_a_restart_and_forgets_after_its_window()
    {
        var box = Box();
        string id;
        using (var store = Store(box, TimeSpan.FromHours(1)))
            id = store.Deliver(Mail("t1")).QueueId!;
        _now += TimeSpan.FromMinutes(59);
        using (var store = Store(box, TimeSpan.FromHours(1)))
        {
            Assert.Single(store.Ledger.Recovered);
            Assert.Equal(id, store.Deliver(Mail("t1")).QueueId);
            Assert.Equal(0, store.Delivered);
        }
        _now += TimeSpan.FromMinutes(2);
        using (var store = Store(box, TimeSpan.FromHours(1)))
        {
            Assert.Empty(store.Ledger.Recovered);
            Assert.NotEqual(id, store.Deliver(Mail("t1")).QueueId); // past the window: a new transaction
        }
        Assert.Equal(2, box.NewMessages().Count);
    }

    [Fact]
    public void At_capacity_new_transactions_are_refused_until_entries_expire()
    {
        var box = Box();
        using var store = Store(box, TimeSpan.FromMinutes(10), capacity: 2);
        Assert.True(store.Deliver(Mail("a")).Success);
        Assert.True(store.Deliver(Mail("b")).Success);
        var full = store.Deliver(Mail("c"));
        Assert.False(full.Success);
        Assert.Equal(1, store.Refused);
        Assert.True(store.Deliver(Mail("a")).Success);              // a known TXID still gets its 250
        Assert.Empty(Directory.GetFiles(Path.Combine(box.Root, "tmp")));
        _now += TimeSpan.FromMinutes(11);
        Assert.True(store.Deliver(Mail("c")).Success);
        Assert.Equal(3, box.NewMessages().Count);
    }

    [Fact]
    public void The_file_stays_bounded_under_churn()
    {
        var box = Box();
        using var store = Store(box, TimeSpan.FromSeconds(10));
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(store.Deliver(Mail($"t{i}")).Success);
            _now += TimeSpan.FromSeconds(1);
        }
        Assert.True(store.Ledger.Count <= 10);
        Assert.True(File.ReadAllLines(store.Ledger.Path).Length <= 64 + 1);
    }

    [Fact]
    public void A_crash_between_ledger_line_and_rename_is_rolled_forward()
    {
        var box = Box();
        // Simulate the crash: prepared in tmp/, ledger line written, never committed.
        var name = box.Prepare("Subject: x\r\n\r\nhello\r\n"u8);
        var key = TransactionLedger.KeyOf("client.example", "t1");
        using (var ledger = new TransactionLedger(TransactionLedger.PathBeside(box), TimeSpan.FromHours(1), clock: () => _now))
            Assert.True(ledger.TryRecord(key, ExactlyOnceDelivery.DigestOf(Mail("t1")), name));
        Assert.Empty(box.NewMessages());
        // A torn half line at the end must not break the restart.
        File.AppendAllText(TransactionLedger.PathBeside(box), "17649");

        using var store = Store(box);
        Assert.Equal(1, store.RolledForward);
        Assert.Single(box.NewMessages());
        Assert.Equal(name, store.Deliver(Mail("t1")).QueueId);      // the client's retry: original 250
        Assert.Single(box.NewMessages());
    }

    /// <summary>Adversarial review: the entry after a torn line was glued onto it, read back as one bad line, and lost.</summary>
    [Fact]
    public void The_entry_after_a_torn_line_survives_the_next_restart()
    {
        var box = Box();
        File.WriteAllText(TransactionLedger.PathBeside(box), "1796364512000 deadbeef");   // crash mid-append
        string queueId;
        using (var store = Store(box))
        {
            var first = store.Deliver(Mail("t1"));
            Assert.True(first.Success);
            queueId = first.QueueId!;
        }
        using (var store = Store(box))                                   // restart: the replay is recognised
        {
            Assert.Equal(queueId, store.Deliver(Mail("t1")).QueueId);
            Assert.Equal(1, store.Duplicates);
        }
        Assert.Single(box.NewMessages());
    }

    [Fact]
    public void Default_window_outlives_every_replay_TCP_could_accept()
    {
        var min = TransactionLedger.MinimumWindow(new TtcpOptions(), TimeSpan.FromHours(2));
        // 2 MSL (60 s) + SYN retransmissions (1+2+4+8+16+32+60 = 123 s) + idle timeout (300 s) < 2 h cookie lifetime.
        Assert.Equal(TimeSpan.FromHours(2), min);
        Assert.Equal(TimeSpan.FromSeconds(483), TransactionLedger.MinimumWindow(new TtcpOptions(), TimeSpan.Zero));
        Assert.True(TransactionLedger.DefaultWindow >= min);
    }
}
