using System.Text.RegularExpressions;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Transport.Raw;

/// <summary>
/// Keeps the kernel from answering the user-space TCP's segments (it would RST them, owning no socket):
/// an nftables netdev-ingress chain drops them on one interface. AF_PACKET sockets see a frame before
/// that hook, so the user-space endpoint still receives it (DESIGN.md, pitfalls).
/// </summary>
/// <remarks>
/// Tables are named <c>lsm_silence_&lt;pid&gt;_&lt;n&gt;</c> (not the testbed's <c>lsm_&lt;pid&gt;_&lt;n&gt;</c>, which a
/// <c>testbed up</c> leaves behind on purpose). They go on Dispose or at process exit; one left by a killed
/// process is removed by the next <see cref="Install"/> in that namespace.
/// </remarks>
public sealed partial class KernelSilencer : IDisposable
{
    public const string TablePrefix = "lsm_silence_";
    private static int _counter;
    private readonly string? _netns;
    private readonly EventHandler _exitHook;
    private int _disposed;

    private KernelSilencer(string? netns, string table)
    {
        _netns = netns;
        Table = table;
        _exitHook = (_, _) => Dispose();
        AppDomain.CurrentDomain.ProcessExit += _exitHook;
    }

    public string Table { get; }

    /// <param name="match">an nft match, e.g. <c>tcp dport 2526</c></param>
    public static KernelSilencer Install(string? netns, string interfaceName, string match)
    {
        RemoveStale(netns);
        var table = $"{TablePrefix}{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}";
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

    /// <summary>Deletes the silencer tables in <paramref name="netns"/> whose owner process is gone (a <c>kill -9</c>); returns their names.</summary>
    public static IReadOnlyList<string> RemoveStale(string? netns)
    {
        var list = Nft(netns, ["list", "tables", "netdev"]);
        if (list.ExitCode != 0) return [];
        var stale = StaleTables(list.Stdout, LinuxProcess.IsAlive);
        foreach (var table in stale) Nft(netns, ["delete", "table", "netdev", table]);
        return stale;
    }

    /// <summary>Silencer tables in an <c>nft list tables</c> output whose pid fails <paramref name="isAlive"/>.</summary>
    public static IReadOnlyList<string> StaleTables(string nftListOutput, Func<int, bool> isAlive)
    {
        ArgumentNullException.ThrowIfNull(nftListOutput);
        ArgumentNullException.ThrowIfNull(isAlive);
        var stale = new List<string>();
        foreach (var line in nftListOutput.Split('\n'))
            if (TableLine().Match(line.Trim()) is { Success: true } m
                && int.TryParse(m.Groups["pid"].Value, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                && pid != Environment.ProcessId && !isAlive(pid))
                stale.Add(m.Groups["table"].Value);
        return stale;
    }

    [GeneratedRegex(@"^table netdev (?<table>lsm_silence_(?<pid>[0-9]{1,9})_[0-9]{1,9})$")]
    private static partial Regex TableLine();

    private static (int ExitCode, string Stdout, string Stderr) Nft(string? netns, string[] args) =>
        netns is null ? HostCommand.TryRun("nft", args) : HostCommand.TryRun("ip", ["netns", "exec", netns, "nft", .. args]);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        AppDomain.CurrentDomain.ProcessExit -= _exitHook;
        Nft(_netns, ["delete", "table", "netdev", Table]);
    }
}
