namespace LatencySmtp.Testbed;

public sealed record TestbedOptions
{
    public TimeSpan DelayClientToServer { get; init; } = TimeSpan.FromMilliseconds(25);
    public TimeSpan DelayServerToClient { get; init; } = TimeSpan.FromMilliseconds(25);
    /// <summary>Jitter each way: the delay varies uniformly in ±Jitter (never reordering unless overridden).</summary>
    public TimeSpan Jitter { get; init; }
    /// <summary>Loss probability each way, in [0, 1).</summary>
    public double Loss { get; init; }
    /// <summary>Duplication probability each way, in [0, 1).</summary>
    public double Duplicate { get; init; }
    /// <summary>Rate limit each way in bit/s; 0: unlimited.</summary>
    public long RateBitsPerSecond { get; init; }
    /// <summary>Full per-direction settings; when set they replace the symmetric ones above for that direction.</summary>
    public LinkParameters? ClientToServerOverride { get; init; }
    public LinkParameters? ServerToClientOverride { get; init; }
    /// <summary>Seeds the emulator's randomness (loss, duplication, jitter): same seed, same fate per frame sequence.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Which link emulator to use; Auto picks netem where the kernel has it.</summary>
    public EmulatorChoice Emulator { get; init; } = EmulatorChoice.Auto;
    /// <summary>Ports served by the user-space TCP (ttcp): both kernels must stay silent on them.</summary>
    public IReadOnlyList<ushort> RawServerPorts { get; init; } = [];
    /// <summary>Default: "lsm-&lt;pid&gt;-&lt;n&gt;", which <see cref="Testbed.RemoveStale"/> recognises.</summary>
    public string? Name { get; init; }
    /// <summary>The delay line exits when this process dies; false for a testbed that outlives its creator (testbed up).</summary>
    public bool OwnedByThisProcess { get; init; } = true;
    /// <summary>SCHED_FIFO priority of the delay line's forwarding threads; 0 keeps them normal threads.</summary>
    public int DelayLineRealtimePriority { get; init; } = 20;
    /// <summary>
    /// User-space delay line only: measure the forwarding path's own round trip once per process (ping
    /// across a zero-delay line) and release frames half of it early each way, so the emulated RTT is
    /// the configured one rather than ~0.2 ms more. Delays shorter than that cannot be compensated.
    /// </summary>
    public bool CompensateForwardingLatency { get; init; } = true;

    public LinkParameters ClientToServer => ClientToServerOverride ?? Symmetric(DelayClientToServer);
    public LinkParameters ServerToClient => ServerToClientOverride ?? Symmetric(DelayServerToClient);

    private LinkParameters Symmetric(TimeSpan delay) => new()
    {
        Delay = delay,
        Jitter = Jitter,
        Loss = Loss,
        Duplicate = Duplicate,
        RateBitsPerSecond = RateBitsPerSecond,
    };

    /// <summary>Test seam: called after each build step with its name; throwing there simulates a failing step.</summary>
    internal Action<string>? AfterBuildStep { get; init; }
}

public enum EmulatorChoice
{
    /// <summary>netem where the running kernel has it, else the user-space delay line.</summary>
    Auto,
    Netem,
    UserspaceDelayLine,
}
