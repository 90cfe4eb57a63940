using System.Net;
using System.Runtime.InteropServices;

namespace LatencySmtp.Transport.Linux;

/// <summary>
/// A kernel TCP socket bound, never listening, to an IPv4 address and port in the calling thread's network
/// namespace, without SO_REUSEADDR or SO_REUSEPORT: while it is open, no other socket there can bind that
/// address and port (bind(2) fails with EADDRINUSE). The user-space TCP server holds one so a second server,
/// raw or kernel, cannot start on its port. Made through libc: .NET's Socket.Bind sets SO_REUSEADDR on Linux
/// whatever ExclusiveAddressUse says, and two unlistening sockets with SO_REUSEADDR may share a port.
/// </summary>
public sealed unsafe class PortReservation : IDisposable
{
    private const int SOCK_STREAM = 1, IPPROTO_TCP = 6, EADDRINUSE = 98;
    private readonly LinuxFd _fd;

    private PortReservation(LinuxFd fd) => _fd = fd;

    /// <exception cref="IOException">the address and port are taken, or the socket cannot be made</exception>
    public static PortReservation Take(IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (endpoint.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            throw new ArgumentException($"{endpoint}: IPv4 only", nameof(endpoint));
        int s = LibC.socket(LibC.AF_INET, SOCK_STREAM | LibC.SOCK_CLOEXEC, IPPROTO_TCP);
        if (s < 0) throw LibC.Error("socket(AF_INET, SOCK_STREAM)");
        var fd = new LinuxFd(s);
        var address = new LibC.SockaddrIn
        {
            Family = LibC.AF_INET,
            Port = LibC.HostToNetwork((ushort)endpoint.Port),
            Addr = LibC.HostToNetwork(Routes.ToUInt32(endpoint.Address)),
        };
        if (LibC.bind(s, &address, (uint)sizeof(LibC.SockaddrIn)) == 0) return new PortReservation(fd);
        int errno = Marshal.GetLastPInvokeError();
        fd.Dispose();
        if (errno == EADDRINUSE) throw InUse(endpoint, null);
        throw new IOException($"bind({endpoint}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
    }

    /// <summary>The error for an address and port another socket holds (kernel listeners say the same).</summary>
    public static IOException InUse(IPEndPoint endpoint, Exception? inner) =>
        new($"{endpoint} is already in use (is another server running there?)", inner);

    public void Dispose() => _fd.Dispose();
}
