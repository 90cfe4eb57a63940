using System.Runtime.InteropServices;

namespace LatencySmtp.Transport.Linux;

/// <summary>An owned file descriptor. The SafeHandle reference count keeps the descriptor open while a
/// call on another thread still uses it, so Dispose never closes a descriptor under a blocked poll(2).</summary>
internal sealed class LinuxFd : SafeHandle
{
    public LinuxFd(int fd) : base(new IntPtr(-1), ownsHandle: true) => SetHandle(new IntPtr(fd));

    public override bool IsInvalid => handle.ToInt64() < 0;

    protected override bool ReleaseHandle() => LibC.close((int)handle.ToInt64()) == 0;

    /// <summary>Pins the descriptor for one system call; dispose the lease afterwards.</summary>
    public Lease Acquire()
    {
        bool added = false;
        DangerousAddRef(ref added);   // throws ObjectDisposedException once closed
        return new Lease(this, (int)handle.ToInt64());
    }

    public readonly struct Lease(LinuxFd owner, int fd) : IDisposable
    {
        public int Fd { get; } = fd;
        public void Dispose() => owner.DangerousRelease();
    }
}
