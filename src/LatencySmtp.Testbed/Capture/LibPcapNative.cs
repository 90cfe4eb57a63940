using System.Runtime.InteropServices;
using SharpPcap.LibPcap;

namespace LatencySmtp.Testbed.Capture;

/// <summary>
/// The two native calls SharpPcap does not expose publicly: the pcap handle's selectable descriptor
/// (pcap_get_selectable_fd(3PCAP)) and poll(2) on it, so the capture thread can sleep until a frame
/// arrives instead of spinning or blocking past a stop request.
/// </summary>
internal static unsafe partial class LibPcapNative
{
    private static readonly string[] LibraryNames = ["libpcap.so.0.8", "libpcap.so.1", "libpcap.so"];
    private static readonly Lazy<IntPtr> GetSelectableFdExport = new(ResolveGetSelectableFd);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    private const short POLLIN = 0x1;
    private const short POLLPRI = 0x2;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    private static IntPtr ResolveGetSelectableFd()
    {
        foreach (var name in LibraryNames)
        {
            if (NativeLibrary.TryLoad(name, out var library)
                && NativeLibrary.TryGetExport(library, "pcap_get_selectable_fd", out var export))
                return export;
        }
        throw new DllNotFoundException($"libpcap with pcap_get_selectable_fd not found (tried {string.Join(", ", LibraryNames)})");
    }

    /// <summary>The descriptor to poll for the device; -1 if libpcap has none.</summary>
    public static int SelectableFd(PcapHandle handle)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var function = (delegate* unmanaged<IntPtr, int>)GetSelectableFdExport.Value;
            return function(handle.DangerousGetHandle());
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    /// <summary>Waits until <paramref name="fd"/> is readable or the timeout passes. Without a descriptor it just sleeps.</summary>
    public static void WaitReadable(int fd, int timeoutMilliseconds)
    {
        if (fd < 0)
        {
            Thread.Sleep(timeoutMilliseconds);
            return;
        }
        var pollFd = new PollFd { Fd = fd, Events = POLLIN | POLLPRI };
        // EINTR or an error: the caller loops and reads anyway, pcap reports real errors.
        _ = poll(&pollFd, 1, timeoutMilliseconds);
    }
}
