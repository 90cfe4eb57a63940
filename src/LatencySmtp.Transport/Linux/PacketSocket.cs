using System.Text;

namespace LatencySmtp.Transport.Linux;

/// <summary>
/// An AF_PACKET/SOCK_RAW socket for ETH_P_ALL bound to one interface: whole Ethernet frames in and out
/// (packet(7)). It is created in the calling thread's network namespace, so wrap Open in
/// <see cref="NetNamespace.Run{T}"/>. Frames reach packet sockets before an nftables netdev-ingress
/// drop hides them from the kernel, which is what lets a user-space TCP share an interface with a
/// silenced kernel.
/// </summary>
public sealed unsafe class PacketSocket : IDisposable
{
    private readonly LinuxFd fd;

    private PacketSocket(LinuxFd fd, string interfaceName, int interfaceIndex, byte[] hardwareAddress)
    {
        this.fd = fd;
        InterfaceName = interfaceName;
        InterfaceIndex = interfaceIndex;
        HardwareAddress = hardwareAddress;
    }

    public string InterfaceName { get; }
    public int InterfaceIndex { get; }
    /// <summary>The interface's MAC address (6 bytes on Ethernet).</summary>
    public byte[] HardwareAddress { get; }
    /// <summary>Frames longer than the caller's buffer; they are discarded, never handed out cut short.</summary>
    public long TruncatedFrames { get; private set; }

    /// <param name="ignoreOutgoing">Sets PACKET_IGNORE_OUTGOING: otherwise a packet socket also
    /// receives every frame sent out of its interface, its own included.</param>
    public static PacketSocket Open(string interfaceName, bool ignoreOutgoing = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        if (Encoding.ASCII.GetByteCount(interfaceName) > 15) throw new ArgumentException("interface names have at most 15 bytes (IFNAMSIZ)", nameof(interfaceName));

        // Protocol 0 receives nothing until bind sets ETH_P_ALL together with the interface, so no frame
        // of another interface slips in between socket() and bind().
        int raw = LibC.socket(LibC.AF_PACKET, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, 0);
        if (raw < 0) throw LibC.Error("socket(AF_PACKET)");
        var fd = new LinuxFd(raw);
        try
        {
            var request = NewIfReq(interfaceName);
            if (LibC.ioctl(raw, LibC.SIOCGIFINDEX, &request) != 0) throw LibC.Error($"SIOCGIFINDEX({interfaceName})");
            int index = request.IfIndex;

            request = NewIfReq(interfaceName);
            if (LibC.ioctl(raw, LibC.SIOCGIFHWADDR, &request) != 0) throw LibC.Error($"SIOCGIFHWADDR({interfaceName})");
            var mac = new byte[6];
            for (int i = 0; i < 6; i++) mac[i] = request.HwAddrData[i];

            if (ignoreOutgoing)
            {
                int one = 1;
                if (LibC.setsockopt(raw, LibC.SOL_PACKET, LibC.PACKET_IGNORE_OUTGOING, &one, sizeof(int)) != 0)
                    throw LibC.Error("setsockopt(PACKET_IGNORE_OUTGOING)");
            }

            var address = new LibC.SockaddrLl { Family = LibC.AF_PACKET, Protocol = LibC.HostToNetwork(LibC.ETH_P_ALL), IfIndex = index };
            if (LibC.bind(raw, &address, (uint)sizeof(LibC.SockaddrLl)) != 0) throw LibC.Error($"bind(AF_PACKET, {interfaceName})");
            return new PacketSocket(fd, interfaceName, index, mac);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Raises the kernel receive buffer (SO_RCVBUFFORCE as root, else SO_RCVBUF) so bursts are not dropped.</summary>
    public void SetReceiveBufferSize(int bytes) => SetBuffer(LibC.SO_RCVBUFFORCE, LibC.SO_RCVBUF, bytes);

    /// <summary>Raises the kernel send buffer (SO_SNDBUFFORCE as root, else SO_SNDBUF).</summary>
    public void SetSendBufferSize(int bytes) => SetBuffer(LibC.SO_SNDBUFFORCE, LibC.SO_SNDBUF, bytes);

    private void SetBuffer(int forced, int plain, int bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        using var lease = fd.Acquire();
        if (LibC.setsockopt(lease.Fd, LibC.SOL_SOCKET, forced, &bytes, sizeof(int)) == 0) return;
        if (LibC.setsockopt(lease.Fd, LibC.SOL_SOCKET, plain, &bytes, sizeof(int)) != 0) throw LibC.Error("setsockopt(SO_RCVBUF/SO_SNDBUF)");
    }

    /// <summary>
    /// Waits at most <paramref name="timeoutMilliseconds"/> (poll(2); -1 waits indefinitely) for one
    /// frame, copies it into <paramref name="frame"/> and returns its length; 0 on timeout. One reader
    /// at a time. Throws <see cref="IOException"/> on socket errors, e.g. ENETDOWN (once) after the
    /// interface went down.
    /// </summary>
    public int Receive(Span<byte> frame, int timeoutMilliseconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(timeoutMilliseconds, -1);
        if (frame.IsEmpty) throw new ArgumentException("empty buffer", nameof(frame));
        using var lease = fd.Acquire();
        long deadline = timeoutMilliseconds < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMilliseconds;
        fixed (byte* buffer = frame)
        {
            while (true)
            {
                // Try first: a frame already queued costs no poll(2).
                nint n = LibC.recv(lease.Fd, buffer, (nuint)frame.Length, LibC.MSG_DONTWAIT | LibC.MSG_TRUNC);
                if (n >= 0)
                {
                    if (n <= frame.Length) return (int)n;
                    TruncatedFrames++;   // MSG_TRUNC reports the real length: this frame did not fit
                    continue;
                }
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno == LibC.EINTR) continue;
                if (errno != LibC.EAGAIN) throw LibC.Error($"recv({InterfaceName})");

                int wait = timeoutMilliseconds < 0 ? -1 : (int)Math.Max(0, deadline - Environment.TickCount64);
                var pollFd = new LibC.PollFd { Fd = lease.Fd, Events = LibC.POLLIN };
                int ready = LibC.poll(&pollFd, 1, wait);
                if (ready < 0)
                {
                    if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == LibC.EINTR) continue;
                    throw LibC.Error($"poll({InterfaceName})");
                }
                if (ready == 0) return 0;
                if ((pollFd.REvents & (LibC.POLLERR | LibC.POLLNVAL)) != 0 && (pollFd.REvents & LibC.POLLIN) == 0)
                    throw new IOException($"packet socket on {InterfaceName} reported poll events 0x{pollFd.REvents:x}");
            }
        }
    }

    /// <summary>Sends one whole Ethernet frame (destination MAC first) out of the bound interface.</summary>
    public void Send(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14) throw new ArgumentException("an Ethernet frame has at least 14 header bytes", nameof(frame));
        using var lease = fd.Acquire();
        fixed (byte* buffer = frame)
        {
            while (true)
            {
                nint n = LibC.send(lease.Fd, buffer, (nuint)frame.Length, 0);
                if (n == frame.Length) return;
                if (n >= 0) throw new IOException($"send({InterfaceName}) sent {n} of {frame.Length} bytes");
                if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == LibC.EINTR) continue;
                throw LibC.Error($"send({InterfaceName}, {frame.Length} bytes)");
            }
        }
    }

    public void Dispose() => fd.Dispose();

    private static LibC.IfReq NewIfReq(string interfaceName)
    {
        var request = default(LibC.IfReq);
        Encoding.ASCII.GetBytes(interfaceName, new Span<byte>(request.Name, 16));
        return request;
    }
}
