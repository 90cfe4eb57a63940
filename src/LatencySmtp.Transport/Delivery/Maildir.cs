using System.Runtime.InteropServices;

namespace LatencySmtp.Transport.Delivery;

/// <summary>
/// A Maildir (cr.yp.to/proto/maildir.html): a message is written to tmp/, fsync'ed, then renamed into
/// new/ and the directory fsync'ed, so that once Deliver returns the message survives a crash.
/// The server says 250 only after Deliver returned.
/// </summary>
public sealed partial class Maildir
{
    private static long _counter;
    private readonly string _host;

    public Maildir(string root)
    {
        Root = Path.GetFullPath(root);
        foreach (var sub in new[] { "tmp", "new", "cur" })
            Directory.CreateDirectory(Path.Combine(Root, sub));
        // '/' and ':' have meaning in Maildir names (RFC-less convention): keep the host part clean.
        _host = Environment.MachineName.Replace('/', '_').Replace(':', '_');
    }

    public string Root { get; }

    public string NewDirectory => Path.Combine(Root, "new");

    /// <summary>Stores <paramref name="message"/> durably and returns its unique name in new/.</summary>
    public string Deliver(ReadOnlySpan<byte> message)
    {
        var unique = Prepare(message);
        Commit(unique);
        return unique;
    }

    /// <summary>
    /// First half of a delivery: the message is written to tmp/ and fsync'ed, not yet visible in new/.
    /// Lets a caller record the name elsewhere (the transaction ledger) before <see cref="Commit"/>.
    /// </summary>
    public string Prepare(ReadOnlySpan<byte> message)
    {
        var now = DateTimeOffset.UtcNow;
        var unique = $"{now.ToUnixTimeSeconds()}.M{now.Ticks / 10 % 1_000_000}P{Environment.ProcessId}Q{Interlocked.Increment(ref _counter)}.{_host}";
        var tmp = Path.Combine(Root, "tmp", unique);
        try
        {
            using var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None);
            file.Write(message);
            file.Flush(flushToDisk: true);
            return unique;
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Second half: tmp/ to new/, then the directory is fsync'ed.</summary>
    public void Commit(string unique)
    {
        File.Move(Path.Combine(Root, "tmp", unique), Path.Combine(Root, "new", unique));
        SyncDirectory(Path.Combine(Root, "new"));
    }

    /// <summary>Commits a prepared message still in tmp/ (recovery after a crash between the two halves); false if none.</summary>
    public bool RollForward(string unique)
    {
        if (!File.Exists(Path.Combine(Root, "tmp", unique))) return false;
        Commit(unique);
        return true;
    }

    /// <summary>Removes a prepared message that will not be committed.</summary>
    public void Discard(string unique)
    {
        try { File.Delete(Path.Combine(Root, "tmp", unique)); } catch (IOException) { }
    }

    /// <summary>The messages in new/ in delivery order (name order within one process).</summary>
    public IReadOnlyList<string> NewMessages() =>
        Directory.GetFiles(NewDirectory).OrderBy(File.GetLastWriteTimeUtc).ThenBy(f => f, StringComparer.Ordinal).ToList();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    private static void SyncDirectory(string path)
    {
        if (!OperatingSystem.IsLinux()) return;
        const int O_RDONLY = 0, O_DIRECTORY = 0x10000;
        var fd = open(path, O_RDONLY | O_DIRECTORY);
        if (fd < 0) throw new IOException($"open({path}) failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (fsync(fd) != 0) throw new IOException($"fsync({path}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            close(fd);
        }
    }
}
