namespace LatencySmtp.Transport.Linux;

/// <summary>Process and thread controls the testbed's helper processes need (kill(2), getppid(2),
/// sched_setscheduler(2), dup2(2)).</summary>
public static unsafe class LinuxProcess
{
    public const int SIGTERM = LibC.SIGTERM;
    public const int SIGKILL = LibC.SIGKILL;

    public static int ParentProcessId => LibC.getppid();

    /// <summary>True while <paramref name="pid"/> exists and is not a zombie (a zombie holds no namespace and does no work).</summary>
    public static bool IsAlive(int pid)
    {
        if (pid <= 0) return false;
        if (LibC.kill(pid, 0) != 0 && System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == LibC.ESRCH) return false;
        try
        {
            // /proc/<pid>/stat: "pid (comm) S ..."; comm may contain spaces and parentheses, the state follows the last ')'.
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close < 0 || close + 2 >= stat.Length || stat[close + 2] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    /// <summary>kill(2); false when the process does not exist.</summary>
    public static bool Signal(int pid, int signal)
    {
        if (pid <= 0) throw new ArgumentOutOfRangeException(nameof(pid));
        if (LibC.kill(pid, signal) == 0) return true;
        if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == LibC.ESRCH) return false;
        throw LibC.Error($"kill({pid}, {signal})");
    }

    /// <summary>Puts the calling thread under SCHED_FIFO at <paramref name="priority"/> (1..99) so a
    /// busy machine cannot delay its timed wake-ups; false when not permitted.</summary>
    public static bool TrySetRealtimePriority(int priority)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(priority, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(priority, 99);
        return LibC.sched_setscheduler(0, LibC.SCHED_FIFO, &priority) == 0;
    }

    /// <summary>Points stdin, stdout and stderr at /dev/null: for a detached helper whose creator has exited.</summary>
    public static void RedirectStandardStreamsToNull()
    {
        int devNull = LibC.open("/dev/null", LibC.O_RDWR | LibC.O_CLOEXEC);
        if (devNull < 0) throw LibC.Error("open(/dev/null)");
        try
        {
            for (int fd = 0; fd <= 2; fd++)
                if (LibC.dup2(devNull, fd) < 0) throw LibC.Error($"dup2(/dev/null, {fd})");
        }
        finally
        {
            LibC.close(devNull);
        }
    }
}
