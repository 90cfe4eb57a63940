using LatencySmtp.Transport.Raw;

namespace LatencySmtp.Tests.Transport;

public sealed class KernelSilencerTests
{
    [Fact]
    public void Stale_tables_are_the_silencer_tables_of_dead_processes_only()
    {
        var list = string.Join('\n',
            "table netdev lsm_silence_4242_1",       // dead owner
            "table netdev lsm_silence_4242_2",
            "table netdev lsm_silence_77_1",         // live owner
            $"table netdev lsm_silence_{Environment.ProcessId}_3",   // ours
            "table netdev lsm_4242_1",               // a testbed's table (testbed up leaves it on purpose)
            "table inet lsm_silence_4242_9",         // not netdev
            "table netdev lsm_silence_4242_1x",
            "table netdev other_4242_1",
            "");
        var stale = KernelSilencer.StaleTables(list, pid => pid == 77);
        Assert.Equal(["lsm_silence_4242_1", "lsm_silence_4242_2"], stale);
    }
}
