using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LatencySmtp.Tcp;

namespace LatencySmtp.Transport.Delivery;

/// <summary>One transaction the server accepted: who sent it, what it was, where it went, when.</summary>
/// <param name="Key">hash of (client domain, TXID): the transaction's identity</param>
/// <param name="Digest">hash of envelope + message: tells a replay from a different mail reusing the TXID</param>
/// <param name="QueueId">the Maildir name given in the original 250</param>
public sealed record LedgerEntry(string Key, string Digest, string QueueId, DateTimeOffset AcceptedAt);

/// <summary>
/// The server's memory of transaction ids (XID ... TXID=id) it accepted, persisted in an append-only file
/// beside the Maildir so that it outlives the process. A SYN carrying a request can come back as a network
/// duplicate, a TCP retransmission after the connection died, an application retry or a deliberate replay;
/// whatever path let it through TCP, the ledger turns its second arrival into the original 250 instead of
/// a second delivery. Bounded: entries expire after <see cref="Window"/>; at <see cref="Capacity"/> live
/// entries new transactions are refused (temporarily) rather than forgetting one early.
/// </summary>
/// <remarks>
/// File format, one line per entry: "unix-ms key digest queue-id". Every append is fsync'ed before the
/// Maildir commit that it protects; the file is rewritten (tmp, fsync, rename) when expired lines
/// outnumber live ones. Not thread-safe: callers serialise (see <see cref="ExactlyOnceDelivery"/>).
/// </remarks>
public sealed class TransactionLedger : IDisposable
{
    private readonly Dictionary<string, LedgerEntry> _entries = new(StringComparer.Ordinal);
    private readonly Queue<LedgerEntry> _order = new();
    private readonly Func<DateTimeOffset> _clock;
    private FileStream _file;
    private int _linesInFile;

    public TransactionLedger(string path, TimeSpan window, int capacity = 100_000, Func<DateTimeOffset>? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Path = System.IO.Path.GetFullPath(path);
        Window = window;
        Capacity = capacity;
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
        Load();
        _file = OpenForAppend();
        Compact(force: false);
    }

    /// <summary>Default window: a day, above <see cref="MinimumWindow"/> for the default TCP options and cookie lifetime.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromDays(1);

    public string Path { get; }
    public TimeSpan Window { get; }
    public int Capacity { get; }
    public int Count { get { Expire(); return _entries.Count; } }

    /// <summary>Entries read back from the file when the ledger opened (live ones only).</summary>
    public IReadOnlyList<LedgerEntry> Recovered { get; private set; } = [];

    /// <summary>
    /// The shortest window that outlives every replay TCP could still accept as new data:
    /// a segment lives at most MSL (RFC 793 §3.3); the client retransmits its SYN for at most the sum of its
    /// backed-off RTOs (RFC 6298 §5.5); the server keeps a half-open connection until its idle timeout;
    /// an accelerated open (data accepted before the handshake) needs a cookie that is valid for
    /// <paramref name="cookieLifetime"/> (ttcp-cookie) or a CC above the cached one, which an old SYN
    /// never has (RFC 1644 §3.2). After that, a replayed SYN must complete a three-way handshake, which an
    /// off-path sender cannot, and a genuine client does not retry a TXID.
    /// </summary>
    public static TimeSpan MinimumWindow(TtcpOptions tcp, TimeSpan cookieLifetime)
    {
        ArgumentNullException.ThrowIfNull(tcp);
        var span = TimeSpan.Zero;
        var rto = tcp.InitialRto;
        for (int i = 0; i <= tcp.MaxRetransmissions; i++)
        {
            span += rto;
            rto = rto * 2 < tcp.MaxRto ? rto * 2 : tcp.MaxRto;
        }
        var tcpHorizon = tcp.Msl * 2 + span + tcp.IdleTimeout;
        return tcpHorizon > cookieLifetime ? tcpHorizon : cookieLifetime;
    }

    /// <summary>The ledger file for a Maildir: a sibling "&lt;maildir&gt;.txids", outside the mailbox itself.</summary>
    public static string PathBeside(Maildir maildir)
    {
        ArgumentNullException.ThrowIfNull(maildir);
        return maildir.Root.TrimEnd(System.IO.Path.DirectorySeparatorChar) + ".txids";
    }

    public static string KeyOf(string clientDomain, string transactionId) =>
        Hash(Encoding.UTF8.GetBytes(clientDomain.ToLowerInvariant() + "\0" + transactionId));

    public static string Hash(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 16));

    /// <summary>The live entry for <paramref name="key"/>, or null.</summary>
    public LedgerEntry? Find(string key)
    {
        Expire();
        return _entries.GetValueOrDefault(key);
    }

    /// <summary>Records a new entry durably (fsync); false when the ledger is full of live entries.</summary>
    public bool TryRecord(string key, string digest, string queueId)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (queueId.Any(char.IsWhiteSpace)) throw new ArgumentException("queue id must not contain white space", nameof(queueId));
        Expire();
        if (_entries.ContainsKey(key)) throw new InvalidOperationException("key already recorded");
        if (_entries.Count >= Capacity) return false;
        var entry = new LedgerEntry(key, digest, queueId, _clock());
        var line = Encoding.ASCII.GetBytes(Format(entry));
        _file.Write(line);
        _file.Flush(flushToDisk: true);
        _linesInFile++;
        Add(entry);
        Compact(force: false);
        return true;
    }

    private void Add(LedgerEntry e)
    {
        _entries[e.Key] = e;
        _order.Enqueue(e);
    }

    private void Expire()
    {
        var horizon = _clock() - Window;
        while (_order.TryPeek(out var e) && e.AcceptedAt <= horizon)
        {
            _order.Dequeue();
            if (_entries.TryGetValue(e.Key, out var cur) && ReferenceEquals(cur, e)) _entries.Remove(e.Key);
        }
    }

    private static string Format(LedgerEntry e) =>
        string.Create(CultureInfo.InvariantCulture, $"{e.AcceptedAt.ToUnixTimeMilliseconds()} {e.Key} {e.Digest} {e.QueueId}\n");

    private void Load()
    {
        if (!File.Exists(Path)) return;
        var horizon = _clock() - Window;
        var loaded = new List<LedgerEntry>();
        foreach (var line in File.ReadLines(Path))
        {
            _linesInFile++;
            // A torn last line (crash during append) has fewer fields or a bad number: skip it.
            var f = line.Split(' ');
            if (f.Length != 4 || !long.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ms)) continue;
            var e = new LedgerEntry(f[1], f[2], f[3], DateTimeOffset.FromUnixTimeMilliseconds(ms));
            if (e.AcceptedAt <= horizon) continue;
            loaded.Add(e);
        }
        foreach (var e in loaded.OrderBy(e => e.AcceptedAt)) Add(e);
        Recovered = _entries.Values.ToList();
    }

    private FileStream OpenForAppend()
    {
        var dir = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        var file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read, 1);
        try
        {
            TerminateTornLine(file);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A crash during an append can leave a last line without its newline. Load skipped it; ending it here keeps
    /// the next entry on a line of its own, where Load will find it (else the two would read as one bad line, and
    /// the next entry, its TXID's protection with it, would be lost at the next start).
    /// </summary>
    private void TerminateTornLine(FileStream file)
    {
        if (file.Length == 0) return;
        using (var read = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1))
        {
            read.Seek(-1, SeekOrigin.End);
            if (read.ReadByte() == '\n') return;
        }
        file.WriteByte((byte)'\n');
        file.Flush(flushToDisk: true);
        _linesInFile++;
    }

    /// <summary>Rewrites the file with live entries only when dead lines dominate (keeps it bounded by about 2 x Capacity lines).</summary>
    private void Compact(bool force)
    {
        Expire();
        if (!force && _linesInFile <= Math.Max(64, 2 * _entries.Count)) return;
        var tmp = Path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1))
        {
            foreach (var e in _order.Where(e => ReferenceEquals(_entries.GetValueOrDefault(e.Key), e)))
                f.Write(Encoding.ASCII.GetBytes(Format(e)));
            f.Flush(flushToDisk: true);
        }
        _file.Dispose();
        File.Move(tmp, Path, overwrite: true);
        _linesInFile = _entries.Count;
        _file = OpenForAppend();
    }

    public void Dispose() => _file.Dispose();
}
