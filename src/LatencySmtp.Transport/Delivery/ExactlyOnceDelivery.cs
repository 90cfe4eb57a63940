using System.Text;
using LatencySmtp.Smtp;

namespace LatencySmtp.Transport.Delivery;

/// <summary>
/// Maildir delivery made idempotent by the transaction id: a request whose (client domain, TXID) the
/// <see cref="TransactionLedger"/> already holds gets the original 250 (same queue id) and is not stored
/// again. Requests without TXID are delivered as before (no exactly-once promise without an id).
/// Thread-safe (one lock): sessions of the kernel server deliver concurrently.
/// </summary>
/// <remarks>
/// Crash safety by two-phase delivery: the message is written to tmp/ and fsync'ed, then the ledger line
/// (naming it) is fsync'ed, then it is renamed into new/. A crash before the ledger line leaves an orphan
/// in tmp/ and no 250: the client retries and the mail is delivered once. A crash after it is rolled
/// forward when the ledger opens again: the retry then finds the entry and gets the original 250.
/// </remarks>
public sealed class ExactlyOnceDelivery : IDisposable
{
    private readonly Lock _lock = new();
    private long _delivered, _duplicates, _conflicts, _refused;

    public ExactlyOnceDelivery(Maildir maildir, TransactionLedger ledger)
    {
        ArgumentNullException.ThrowIfNull(maildir);
        ArgumentNullException.ThrowIfNull(ledger);
        Maildir = maildir;
        Ledger = ledger;
        foreach (var e in ledger.Recovered)
            if (maildir.RollForward(e.QueueId)) RolledForward++;
    }

    /// <summary>A ledger beside the Maildir (<see cref="TransactionLedger.PathBeside"/>) with the given (or default) window.</summary>
    public static ExactlyOnceDelivery Beside(Maildir maildir, TimeSpan? window = null, Func<DateTimeOffset>? clock = null) =>
        new(maildir, new TransactionLedger(TransactionLedger.PathBeside(maildir), window ?? TransactionLedger.DefaultWindow, clock: clock));

    public Maildir Maildir { get; }
    public TransactionLedger Ledger { get; }

    /// <summary>Messages stored in the Maildir by this instance.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);
    /// <summary>Requests answered with an earlier 250 instead of being stored again.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);
    /// <summary>Requests reusing a TXID for a different message: refused (451), never stored.</summary>
    public long Conflicts => Interlocked.Read(ref _conflicts);
    /// <summary>Requests refused because the ledger was full of live entries.</summary>
    public long Refused => Interlocked.Read(ref _refused);
    /// <summary>Prepared messages committed at start-up after a crash between ledger line and rename.</summary>
    public int RolledForward { get; }

    public DeliveryResult Deliver(PendingDelivery pending)
    {
        ArgumentNullException.ThrowIfNull(pending);
        var env = pending.Envelope;
        try
        {
            if (env.TransactionId is not { } txid)
            {
                var name = Maildir.Deliver(pending.Message.Span);
                Interlocked.Increment(ref _delivered);
                return new DeliveryResult(true, name, null);
            }
            var key = TransactionLedger.KeyOf(env.ClientDomain, txid);
            var digest = DigestOf(pending);
            lock (_lock)
            {
                if (Ledger.Find(key) is { } seen)
                {
                    if (seen.Digest != digest)
                    {
                        Interlocked.Increment(ref _conflicts);
                        return new DeliveryResult(false, null, "TXID already used for a different message");
                    }
                    Interlocked.Increment(ref _duplicates);
                    return new DeliveryResult(true, seen.QueueId, null);
                }
                var name = Maildir.Prepare(pending.Message.Span);
                if (!Ledger.TryRecord(key, digest, name))
                {
                    Maildir.Discard(name);
                    Interlocked.Increment(ref _refused);
                    return new DeliveryResult(false, null, "transaction ledger full");
                }
                Maildir.Commit(name);
                Interlocked.Increment(ref _delivered);
                return new DeliveryResult(true, name, null);
            }
        }
        catch (IOException e)
        {
            return new DeliveryResult(false, null, e.Message);
        }
    }

    /// <summary>Envelope and content: a replay matches bit for bit; another mail under the same TXID does not.</summary>
    public static string DigestOf(PendingDelivery p)
    {
        ArgumentNullException.ThrowIfNull(p);
        var head = Encoding.UTF8.GetBytes($"{p.Envelope.ReversePath}\0{string.Join('\0', p.Envelope.Recipients)}\0\0");
        var all = new byte[head.Length + p.Message.Length];
        head.CopyTo(all, 0);
        p.Message.Span.CopyTo(all.AsSpan(head.Length));
        return TransactionLedger.Hash(all);
    }

    public void Dispose() => Ledger.Dispose();
}
