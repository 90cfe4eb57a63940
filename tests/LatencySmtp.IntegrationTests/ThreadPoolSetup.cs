using System.Runtime.CompilerServices;

namespace LatencySmtp.IntegrationTests;

internal static class ThreadPoolSetup
{
    /// <summary>As the CLI does: servers and clients share the test process, and blocking calls (fsync, TFO's
    /// first send) must not leave async work waiting for the thread pool's slow thread injection.</summary>
    [ModuleInitializer]
    internal static void Raise()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), io);
    }
}
