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
}
