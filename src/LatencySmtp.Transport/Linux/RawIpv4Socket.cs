namespace LatencySmtp.Transport.Linux;

/// <summary>
/// An AF_INET/SOCK_RAW/IPPROTO_RAW socket (raw(7)): the caller supplies whole IPv4 packets, header
/// included (IPPROTO_RAW implies IP_HDRINCL), and the kernel routes them and resolves ARP. The kernel
/// always fills in the header checksum and total length, and the identification and source address
/// when they are 0; transport checksums are the caller's. Send-only: IPPROTO_RAW receives nothing.
/// Created in the calling thread's network namespace.
/// </summary>
public sealed unsafe class RawIpv4Socket : IDisposable
{
    private readonly LinuxFd fd;

    private RawIpv4Socket(LinuxFd fd) => this.fd = fd;

    public static RawIpv4Socket Open()
    {
        int raw = LibC.socket(LibC.AF_INET, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, LibC.IPPROTO_RAW);
        if (raw < 0) throw LibC.Error("socket(AF_INET, SOCK_RAW, IPPROTO_RAW)");
        return new RawIpv4Socket(new LinuxFd(raw));
    }

    /// <summary>Sends one IPv4 packet towards <paramref name="destination"/> (host order: 10.0.0.1 == 0x0A000001),
    /// which should equal the packet's destination address. Blocks while the socket's send buffer is full.</summary>
    public void Send(ReadOnlySpan<byte> ipv4Packet, uint destination) => SendCore(ipv4Packet, destination, 0);

    /// <summary>
    /// As <see cref="Send"/>, but never blocks: false when the send buffer is full (EAGAIN) or the kernel has no
    /// buffer (ENOBUFS), and the packet is dropped, as a congested link would. Packets to a neighbour that does
    /// not answer ARP sit in the kernel's queue charged to this socket; a flood of SYNs from spoofed on-link
    /// addresses fills the buffer with replies to them, and a blocking send would stall every connection.
    /// </summary>
    public bool TrySend(ReadOnlySpan<byte> ipv4Packet, uint destination) => SendCore(ipv4Packet, destination, LibC.MSG_DONTWAIT);

    private bool SendCore(ReadOnlySpan<byte> ipv4Packet, uint destination, int flags)
    {
        if (ipv4Packet.Length < 20 || ipv4Packet[0] >> 4 != 4) throw new ArgumentException("not an IPv4 packet", nameof(ipv4Packet));
        var address = new LibC.SockaddrIn { Family = LibC.AF_INET, Addr = LibC.HostToNetwork(destination) };
        using var lease = fd.Acquire();
        fixed (byte* buffer = ipv4Packet)
        {
            while (true)
            {
                nint n = LibC.sendto(lease.Fd, buffer, (nuint)ipv4Packet.Length, flags, &address, (uint)sizeof(LibC.SockaddrIn));
                if (n == ipv4Packet.Length) return true;
                if (n >= 0) throw new IOException($"raw sendto sent {n} of {ipv4Packet.Length} bytes");
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno == LibC.EINTR) continue;
                if ((flags & LibC.MSG_DONTWAIT) != 0 && errno is LibC.EAGAIN or LibC.ENOBUFS) return false;
                throw LibC.Error($"raw sendto({ipv4Packet.Length} bytes)");
            }
        }
    }

    public void Dispose() => fd.Dispose();
}
