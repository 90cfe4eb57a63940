using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Transport.Raw;

/// <summary>
/// Keeps the kernel from answering the user-space TCP's segments (it would RST them, owning no socket):
/// an nftables netdev-ingress chain drops them on one interface. AF_PACKET sockets see a frame before
/// that hook, so the user-space endpoint still receives it (DESIGN.md, pitfalls).
/// </summary>
public sealed class KernelSilencer : IDisposable
{
    private static int _counter;
    private readonly string? _netns;
    private bool _disposed;

    private KernelSilencer(string? netns, string table)
    {
        _netns = netns;
        Table = table;
    }

    public string Table { get; }

    /// <param name="match">an nft match, e.g. <c>tcp dport 2526</c></param>
    public static KernelSilencer Install(string? netns, string interfaceName, string match)
    {
        var table = $"lsm_{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}";
        var rules = $$"""
            table netdev {{table}} {
              chain ingress {
                type filter hook ingress device "{{interfaceName}}" priority -500; policy accept;
                {{match}} drop
              }
            }
            """;
        HostCommand.RunIn(netns, "nft", ["-f", "-"], rules);
        return new KernelSilencer(netns, table);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        HostCommand.TryRun(_netns is null ? "nft" : "ip",
            _netns is null ? ["delete", "table", "netdev", Table] : ["netns", "exec", _netns, "nft", "delete", "table", "netdev", Table]);
    }
}
