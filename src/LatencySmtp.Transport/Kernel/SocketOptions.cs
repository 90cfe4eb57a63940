using System.Net.Sockets;

namespace LatencySmtp.Transport.Kernel;

/// <summary>Linux TCP socket options that .NET does not name.</summary>
public static class SocketOptions
{
    private const int TCP_FASTOPEN = 23;          // listener: queue length for TFO requests (RFC 7413)
    private const int TCP_FASTOPEN_CONNECT = 30;  // client: connect() defers the SYN to the first write

    private const int SOL_SOCKET = 1, SO_REUSEADDR = 2;

    /// <summary>
    /// SO_REUSEADDR alone: a restarted server binds while old connections sit in TIME-WAIT, but a second listener
    /// on the same address and port fails with EADDRINUSE. .NET's <c>ReuseAddress</c> sets SO_REUSEPORT too on
    /// Linux, which lets two servers share the port and split its connections between them.
    /// </summary>
    public static void ReuseAddressOnly(Socket s) =>
        s.SetRawSocketOption(SOL_SOCKET, SO_REUSEADDR, BitConverter.GetBytes(1));

    /// <summary>Binds <paramref name="s"/>, naming the address in the error when another socket holds it.</summary>
    public static void BindExclusive(Socket s, System.Net.IPEndPoint endpoint)
    {
        try
        {
            s.Bind(endpoint);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw Linux.PortReservation.InUse(endpoint, e);
        }
    }

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
