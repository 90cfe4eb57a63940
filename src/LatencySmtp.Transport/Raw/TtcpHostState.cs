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

    /// <summary>Seeds CCgen and the TAO entries from <paramref name="path"/>; a missing or unreadable file means a fresh host.</summary>
    public static bool Load(TtcpHost host, string path)
    {
        State? state;
        try
        {
            if (!File.Exists(path)) return false;
            state = JsonSerializer.Deserialize<State>(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return false;
        }
        if (state is null) return false;
        host.SeedCC(state.LastCC);
        foreach (var (address, peer) in state.Peers)
            if (uint.TryParse(address, out var a))
                host.Tao.Update(a, e => e with
                {
                    CCSent = peer.CCSent, Mss = peer.Mss,
                    Cookie = peer.Cookie is null ? null : Convert.FromHexString(peer.Cookie),
                });
        return true;
    }

    /// <summary>Writes CCgen and the TAO entries of <paramref name="peers"/>, merged with what the file held.</summary>
    public static void Save(TtcpHost host, string path, IEnumerable<uint> peers)
    {
        var peersByAddress = new Dictionary<string, Peer>();
        try
        {
            if (File.Exists(path) && JsonSerializer.Deserialize<State>(File.ReadAllText(path)) is { } old)
                peersByAddress = old.Peers;
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
        File.WriteAllText(tmp, JsonSerializer.Serialize(new State(host.LastCC, peersByAddress)));
        File.Move(tmp, path, overwrite: true);
    }
}
