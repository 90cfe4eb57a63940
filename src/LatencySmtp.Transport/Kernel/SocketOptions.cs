using System.Net.Sockets;

namespace LatencySmtp.Transport.Kernel;

/// <summary>Linux TCP socket options that .NET does not name.</summary>
public static class SocketOptions
{
    private const int TCP_FASTOPEN = 23;          // listener: queue length for TFO requests (RFC 7413)
    private const int TCP_FASTOPEN_CONNECT = 30;  // client: connect() defers the SYN to the first write

    public static void EnableFastOpenListener(Socket s, int queue = 256) =>
        s.SetRawSocketOption((int)SocketOptionLevel.Tcp, TCP_FASTOPEN, BitConverter.GetBytes(queue));

    public static void EnableFastOpenConnect(Socket s) =>
        s.SetRawSocketOption((int)SocketOptionLevel.Tcp, TCP_FASTOPEN_CONNECT, BitConverter.GetBytes(1));

    /// <summary>net.ipv4.tcp_fastopen in the namespace (bit 1: client, bit 2: server); null when unreadable.</summary>
    public static int? FastOpenSysctl(string? netns = null) =>
        Linux.NetNamespace.Run(netns, () =>
            int.TryParse(File.Exists(SysctlPath) ? File.ReadAllText(SysctlPath).Trim() : null, out var v) ? v : (int?)null);

    /// <summary>A warning when the namespace's sysctl lacks <paramref name="bit"/> (1 client, 2 server), else null.</summary>
    public static string? FastOpenWarning(int bit, string? netns = null) => FastOpenSysctl(netns) is int v && (v & bit) == 0
        ? $"net.ipv4.tcp_fastopen = {v} lacks the {(bit == 1 ? "client" : "server")} bit ({bit}): the request will not ride in the SYN; " +
          $"run `{(netns is null ? "" : $"ip netns exec {netns} ")}sysctl -w net.ipv4.tcp_fastopen=3`"
        : null;

    private const string SysctlPath = "/proc/sys/net/ipv4/tcp_fastopen";
}
