using System.Text.Json;
using LatencySmtp.Tcp;

namespace LatencySmtp.Transport.Raw;

/// <summary>
/// The T/TCP client state a kernel keeps across processes (RFC 1644 §3.1: CCgen and the per-host TAO
/// cache), kept in a small file for the CLI, where every <c>send</c> is a new process. Without it each
/// send starts CCgen at 1 and has no CCsent for the server: CC.NEW, a failed TAO test, 2 RTT every time.
/// </summary>
public static class TtcpHostState
{
    public static string DefaultPath =>
        Path.Combine(Environment.GetEnvironmentVariable("LATENCY_SMTP_STATE") ?? "/var/lib/latency-smtp", "ttcp-client.json");

    private sealed record Peer(uint? CCSent, ushort? Mss, string? Cookie);

    private sealed record State(uint LastCC, Dictionary<string, Peer> Peers);

    /// <summary>
    /// Seeds CCgen and the TAO entries from <paramref name="path"/>. A missing file means a fresh host; so does a
    /// bad one (unreadable, not JSON, a null peer map, an address or cookie that does not parse), with a warning on
    /// <paramref name="warnings"/> (default: stderr). All or nothing: a bad file leaves the host untouched.
    /// </summary>
    public static bool Load(TtcpHost host, string path, TextWriter? warnings = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (!File.Exists(path)) return false;
        uint lastCC;
        List<(uint Address, TaoEntry Entry)> entries;
        try
        {
            (lastCC, entries) = Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or FormatException)
        {
            (warnings ?? Console.Error).WriteLine($"warning: ignoring the T/TCP state in {path} ({e.Message}); this host starts fresh (first contact)");
            return false;
        }
        host.SeedCC(lastCC);
        foreach (var (address, entry) in entries)
            host.Tao.Update(address, e => e with { CCSent = entry.CCSent, Mss = entry.Mss, Cookie = entry.Cookie });
        return true;
    }

    private static (uint LastCC, List<(uint, TaoEntry)> Entries) Parse(string json)
    {
        var state = JsonSerializer.Deserialize<State>(json) ?? throw new FormatException("empty state");
        if (state.Peers is null) throw new FormatException("no peer map");
        var entries = new List<(uint, TaoEntry)>();
        foreach (var (address, peer) in state.Peers)
            entries.Add(ParsePeer(address, peer));
        return (state.LastCC, entries);
    }

    private static (uint, TaoEntry) ParsePeer(string address, Peer? peer)
    {
        if (!uint.TryParse(address, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var a))
            throw new FormatException($"bad peer address '{address}'");
        if (peer is null) throw new FormatException($"no entry for peer {address}");
        return (a, new TaoEntry(null, peer.CCSent, peer.Mss, peer.Cookie is null ? null : Convert.FromHexString(peer.Cookie)));
    }

    private static bool IsValid(string address, Peer? peer)
    {
        try
        {
            ParsePeer(address, peer);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Writes CCgen and the TAO entries of <paramref name="peers"/>, merged with what the file held.</summary>
    public static void Save(TtcpHost host, string path, IEnumerable<uint> peers)
    {
        var peersByAddress = new Dictionary<string, Peer>();
        try
        {
            // Other servers' entries are kept; bad ones (Load warned about them) are dropped.
            if (File.Exists(path) && JsonSerializer.Deserialize<State>(File.ReadAllText(path)) is { Peers: { } old })
                foreach (var (address, peer) in old)
                    if (IsValid(address, peer)) peersByAddress[address] = peer;
        }
        catch (JsonException) { }
        foreach (var p in peers)
        {
            var e = host.Tao.Get(p);
            peersByAddress[p.ToString(System.Globalization.CultureInfo.InvariantCulture)] =
                new Peer(e.CCSent, e.Mss, e.Cookie is null ? null : Convert.ToHexString(e.Cookie));
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = path + ".tmp";
        try
        {
            File.WriteAllText(tmp, JsonSerializer.Serialize(new State(host.LastCC, peersByAddress)));
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);   // e.g. path is a directory: no stray .tmp beside it
            throw;
        }
    }
}
