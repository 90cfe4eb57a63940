namespace LatencySmtp.Testbed;

public sealed record TestbedOptions
{
    public TimeSpan DelayClientToServer { get; init; } = TimeSpan.FromMilliseconds(25);
    public TimeSpan DelayServerToClient { get; init; } = TimeSpan.FromMilliseconds(25);
    /// <summary>Ports served by the user-space TCP (ttcp): both kernels must stay silent on them.</summary>
    public IReadOnlyList<ushort> RawServerPorts { get; init; } = [];
    /// <summary>Default: "lsm-&lt;pid&gt;-&lt;n&gt;", which <see cref="Testbed.RemoveStale"/> recognises.</summary>
    public string? Name { get; init; }
    /// <summary>The delay line exits when this process dies; false for a testbed that outlives its creator (testbed up).</summary>
    public bool OwnedByThisProcess { get; init; } = true;
    /// <summary>SCHED_FIFO priority of the delay line's forwarding threads; 0 keeps them normal threads.</summary>
    public int DelayLineRealtimePriority { get; init; } = 20;

    /// <summary>Test seam: called after each build step with its name; throwing there simulates a failing step.</summary>
    internal Action<string>? AfterBuildStep { get; init; }
}
