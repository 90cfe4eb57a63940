using System.Globalization;

namespace LatencySmtp.Testbed;

/// <summary>What the running kernel offers for link emulation, found by trying it.</summary>
/// <param name="NetemAvailable">`tc qdisc add ... netem` worked in a scratch namespace.</param>
/// <param name="NetemSeed">netem also took a `seed` (Linux 6.3+, iproute2 6.5+): its randomness repeats.</param>
/// <param name="Evidence">What the probe saw, for run.json and error messages.</param>
public sealed record EmulatorProbe(bool NetemAvailable, bool NetemSeed, string Evidence);

/// <summary>
/// Chooses the link emulator. netem is the kernel's own (tc-netem(8)); this machine's kernel lacks it,
/// so the user-space delay line is the fallback. Detection does not trust modinfo or /proc/config.gz
/// (often absent in containers and custom kernels): it adds a netem qdisc to a veth device in a
/// throw-away namespace, which also loads the module where one exists.
/// </summary>
public static class Emulator
{
    public const string NetemBackend = "netem";
    public const string UserspaceDelayLineBackend = "userspace-delay-line";
    private static readonly Lazy<EmulatorProbe> Cached = new(Probe);

    /// <summary>The probe, run once per process (needs root).</summary>
    public static EmulatorProbe Detect() => Cached.Value;

    /// <summary>The backend for a choice; throws when netem is demanded and missing.</summary>
    public static string Choose(EmulatorChoice choice, EmulatorProbe probe) => choice switch
    {
        EmulatorChoice.UserspaceDelayLine => UserspaceDelayLineBackend,
        EmulatorChoice.Netem when probe.NetemAvailable => NetemBackend,
        EmulatorChoice.Netem => throw new TestbedException($"netem requested but not available: {probe.Evidence}"),
        _ => probe.NetemAvailable ? NetemBackend : UserspaceDelayLineBackend,
    };

    /// <summary>Runs the probe now (uncached): a scratch namespace with a veth pair, removed again.</summary>
    public static EmulatorProbe Probe()
    {
        string ns = $"lsm-probe-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        try
        {
            HostCommand.Ip(null, "netns", "add", ns);
            // A veth pair, not a dummy device: the testbed needs veth anyway, and some kernels (this one) lack dummy.
            var veth = HostCommand.TryRun("ip", ["-n", ns, "link", "add", "probe0", "type", "veth", "peer", "name", "probe1"]);
            if (veth.ExitCode != 0) return new EmulatorProbe(false, false, $"cannot create a veth pair: {OneLine(veth.StandardError)}");
            HostCommand.Ip(ns, "link", "set", "probe0", "up");
            var add = HostCommand.TryRun("tc", ["-n", ns, "qdisc", "add", "dev", "probe0", "root", "netem", "delay", "1ms"]);
            if (add.ExitCode != 0)
                return new EmulatorProbe(false, false, $"tc qdisc add ... netem failed ({add.ExitCode}): {OneLine(add.StandardError)}");
            var seed = HostCommand.TryRun("tc", ["-n", ns, "qdisc", "change", "dev", "probe0", "root", "netem", "delay", "1ms", "seed", "1"]);
            return new EmulatorProbe(true, seed.ExitCode == 0,
                "tc qdisc add ... netem succeeded" + (seed.ExitCode == 0 ? ", seed supported" : $"; seed not supported: {OneLine(seed.StandardError)}"));
        }
        catch (TestbedException e)
        {
            return new EmulatorProbe(false, false, $"probe failed: {e.Message}");
        }
        finally
        {
            HostCommand.TryRun("ip", ["netns", "delete", ns]);
        }
    }

    private static string OneLine(string s) => string.Join(" ", s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>
    /// The tc commands (arguments after "tc -n NS") that give <paramref name="device"/>'s egress the link's
    /// behaviour. Without reordering, a pfifo child replaces netem's time-sorted tfifo (tc-netem(8)):
    /// a frame then waits behind its predecessor, as in the delay line.
    /// </summary>
    public static IReadOnlyList<string[]> NetemCommands(string device, LinkParameters link, int? seed)
    {
        link.Validate(device);
        int limit = Math.Max(1000, link.RateQueueBytes / 1514);
        var netem = new List<string> { "qdisc", "add", "dev", device, "root", "handle", "1:", "netem", "limit", Int(limit), "delay", Micros(link.Delay) };
        if (link.Jitter > TimeSpan.Zero) netem.Add(Micros(link.Jitter));   // uniform: no distribution table given
        if (link.Loss > 0) netem.AddRange(["loss", "random", Percent(link.Loss)]);
        if (link.Duplicate > 0) netem.AddRange(["duplicate", Percent(link.Duplicate)]);
        if (link.RateBitsPerSecond > 0) netem.AddRange(["rate", $"{link.RateBitsPerSecond.ToString(CultureInfo.InvariantCulture)}bit"]);
        if (seed is int s) netem.AddRange(["seed", Int(s)]);
        var commands = new List<string[]> { netem.ToArray() };
        if (!link.AllowReordering && link.Jitter > TimeSpan.Zero)
            commands.Add(["qdisc", "add", "dev", device, "parent", "1:1", "pfifo", "limit", Int(limit)]);
        return commands;
    }

    private static string Int(long n) => n.ToString(CultureInfo.InvariantCulture);
    private static string Micros(TimeSpan t) => $"{(t.Ticks / 10).ToString(CultureInfo.InvariantCulture)}us";
    private static string Percent(double p) => $"{(p * 100).ToString("0.######", CultureInfo.InvariantCulture)}%";
}
