using System.Runtime.InteropServices;

namespace LatencySmtp.Transport.Linux;

/// <summary>
/// Runs code inside a named network namespace (ip netns). A socket belongs to the namespace of the
/// thread that created it, so sockets are created on a dedicated thread that called setns(2) first;
/// they can then be used from any thread.
/// </summary>
public static partial class NetNamespace
{
    private const int CLONE_NEWNET = 0x40000000;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);

    public static string PathOf(string name) => Path.Combine("/var/run/netns", name);

    public static bool Exists(string name) => File.Exists(PathOf(name));

    /// <summary>Moves the calling thread into the namespace. Only for threads the caller owns.</summary>
    public static void Enter(string name)
    {
        using var ns = File.OpenHandle(PathOf(name), FileMode.Open, FileAccess.Read);
        if (setns((int)ns.DangerousGetHandle(), CLONE_NEWNET) != 0)
            throw new IOException($"setns({name}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Runs <paramref name="action"/> on a fresh thread inside namespace <paramref name="name"/>
    /// (or in the current namespace when name is null) and returns its result.</summary>
    public static T Run<T>(string? name, Func<T> action)
    {
        if (name is null) return action();
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                Enter(name);
                result = action();
            }
            catch (Exception e)
            {
                error = e;
            }
        }) { IsBackground = true, Name = $"netns:{name}" };
        thread.Start();
        thread.Join();
        if (error is not null) throw new InvalidOperationException($"in network namespace {name}: {error.Message}", error);
        return result;
    }

    public static void Run(string? name, Action action) => Run<bool>(name, () => { action(); return true; });
}
