using System.Runtime.InteropServices;

namespace LatencySmtp.Transport.Linux;

/// <summary>glibc entry points and Linux constants (x86-64/arm64 values) used by the raw I/O primitives.</summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int AF_INET = 2;
    public const int AF_PACKET = 17;
    public const int SOCK_RAW = 3;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int IPPROTO_RAW = 255;
    public const ushort ETH_P_ALL = 0x0003;

    public const int SOL_SOCKET = 1;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SO_SNDBUFFORCE = 32;
    public const int SO_RCVBUFFORCE = 33;
    public const int SOL_PACKET = 263;
    public const int PACKET_IGNORE_OUTGOING = 23;

    public const nuint SIOCGIFINDEX = 0x8933;
    public const nuint SIOCGIFHWADDR = 0x8927;

    public const short POLLIN = 0x001;
    public const short POLLERR = 0x008;
    public const short POLLHUP = 0x010;
    public const short POLLNVAL = 0x020;

    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_TRUNC = 0x20;

    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENOBUFS = 105;
    public const int ESRCH = 3;

    public const int CLOCK_MONOTONIC = 1;
    public const int TIMER_ABSTIME = 1;

    public const int PR_SET_TIMERSLACK = 29;

    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrLl
    {
        public ushort Family;
        public ushort Protocol;      // network byte order
        public int IfIndex;
        public ushort HaType;
        public byte PktType;
        public byte HaLen;
        public fixed byte Addr[8];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct SockaddrIn
    {
        public ushort Family;
        public ushort Port;          // network byte order
        public uint Addr;            // network byte order
        public fixed byte Zero[8];
    }

    /// <summary>struct ifreq: 16-byte name, then a 24-byte union (ifindex or sockaddr hwaddr).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 40)]
    public struct IfReq
    {
        [FieldOffset(0)] public fixed byte Name[16];
        [FieldOffset(16)] public int IfIndex;
        [FieldOffset(16)] public ushort HwAddrFamily;
        [FieldOffset(18)] public fixed byte HwAddrData[14];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport(Lib, SetLastError = true)] public static partial int socket(int domain, int type, int protocol);
    [LibraryImport(Lib, SetLastError = true)] public static partial int bind(int fd, void* addr, uint addrlen);
    [LibraryImport(Lib, SetLastError = true)] public static partial int close(int fd);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setsockopt(int fd, int level, int name, void* value, uint length);
    [LibraryImport(Lib, SetLastError = true)] public static partial int getsockopt(int fd, int level, int name, void* value, uint* length);
    [LibraryImport(Lib, SetLastError = true)] public static partial int ioctl(int fd, nuint request, void* arg);
    [LibraryImport(Lib, SetLastError = true)] public static partial int poll(PollFd* fds, nuint nfds, int timeout);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint recv(int fd, void* buffer, nuint length, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint send(int fd, void* buffer, nuint length, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint sendto(int fd, void* buffer, nuint length, int flags, void* addr, uint addrlen);
    [LibraryImport(Lib, SetLastError = true)] public static partial int clock_gettime(int clock, Timespec* ts);
    /// <summary>Returns 0 or an error number (not errno).</summary>
    [LibraryImport(Lib)] public static partial int clock_nanosleep(int clock, int flags, Timespec* request, Timespec* remain);
    [LibraryImport(Lib, SetLastError = true)] public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
    [LibraryImport(Lib, SetLastError = true)] public static partial int kill(int pid, int signal);
    [LibraryImport(Lib)] public static partial int getppid();
    [LibraryImport(Lib, SetLastError = true)] public static partial int dup2(int oldfd, int newfd);
    [LibraryImport(Lib, SetLastError = true)] public static partial int sched_setscheduler(int pid, int policy, int* priority);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)] public static partial int open(string path, int flags);

    public const int SCHED_FIFO = 1;
    public const int O_RDWR = 2;
    public const int O_CLOEXEC = 0x80000;

    public static IOException Error(string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
    }

    public static ushort HostToNetwork(ushort value) => BitConverter.IsLittleEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(value) : value;
    public static uint HostToNetwork(uint value) => BitConverter.IsLittleEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(value) : value;
}
