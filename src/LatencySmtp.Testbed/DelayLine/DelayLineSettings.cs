using System.Globalization;

namespace LatencySmtp.Testbed;

/// <summary>The delay line's command line (after "__delay-line"), parsed strictly and formatted back.</summary>
public sealed record DelayLineSettings
{
    public required string ClientInterface { get; init; }
    public required string ServerInterface { get; init; }
    public LinkParameters ClientToServer { get; init; } = new();
    public LinkParameters ServerToClient { get; init; } = new();
    /// <summary>The testbed seed; each direction derives its own (<see cref="LinkParameters.DirectionSeed"/>).</summary>
    public int Seed { get; init; }
    /// <summary>Release frames this much early (each way): the measured latency of the forwarding path itself.</summary>
    public TimeSpan Compensation { get; init; }
    /// <summary>Exit when this process is gone (polled every ~200 ms); null: run until SIGTERM.</summary>
    public int? ParentProcessId { get; init; }
    /// <summary>After "ready", point stdio at /dev/null: the creator will not read it any more.</summary>
    public bool Detach { get; init; }
    /// <summary>SCHED_FIFO priority for the forwarding threads (0: stay a normal thread). Timed wake-ups
    /// otherwise wait behind compilers on a busy machine; the threads block, they never spin.</summary>
    public int RealtimePriority { get; init; } = 20;
    /// <summary>Bytes each direction's queue holds before dropping at the tail.</summary>
    public int QueueBytes { get; init; } = 16 << 20;

    public IReadOnlyList<string> ToArguments()
    {
        var args = new List<string>
        {
            "--client-interface", ClientInterface,
            "--server-interface", ServerInterface,
            "--seed", Seed.ToString(CultureInfo.InvariantCulture),
            "--compensation-ns", Nanoseconds(Compensation),
            "--realtime-priority", RealtimePriority.ToString(CultureInfo.InvariantCulture),
            "--queue-bytes", QueueBytes.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (prefix, link) in new[] { ("client-to-server", ClientToServer), ("server-to-client", ServerToClient) })
        {
            args.AddRange([$"--{prefix}-delay-ns", Nanoseconds(link.Delay), $"--{prefix}-jitter-ns", Nanoseconds(link.Jitter),
                $"--{prefix}-loss", Fraction(link.Loss), $"--{prefix}-duplicate", Fraction(link.Duplicate),
                $"--{prefix}-rate-bps", link.RateBitsPerSecond.ToString(CultureInfo.InvariantCulture),
                $"--{prefix}-rate-queue-bytes", link.RateQueueBytes.ToString(CultureInfo.InvariantCulture)]);
            if (link.AllowReordering) args.Add($"--{prefix}-reorder");
        }
        if (ParentProcessId is int pid) args.AddRange(["--parent-pid", pid.ToString(CultureInfo.InvariantCulture)]);
        if (Detach) args.Add("--detach");
        return args;
    }

    /// <exception cref="FormatException">unknown, missing, repeated or malformed arguments.</exception>
    public static DelayLineSettings Parse(IReadOnlyList<string> args)
    {
        string? client = null, server = null;
        var links = new Dictionary<string, LinkParameters> { ["client-to-server"] = new(), ["server-to-client"] = new() };
        int? parent = null, realtime = null, queueBytes = null, seed = null;
        TimeSpan compensation = TimeSpan.Zero;
        bool detach = false;
        var seen = new HashSet<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            if (!seen.Add(name)) throw new FormatException($"{name} given twice");
            if (name == "--detach")
            {
                detach = true;
                continue;
            }
            if (name is "--client-to-server-reorder" or "--server-to-client-reorder")
            {
                string d = name[2..^"-reorder".Length];
                links[d] = links[d] with { AllowReordering = true };
                continue;
            }
            if (i + 1 >= args.Count) throw new FormatException($"{name} needs a value");
            string value = args[++i];
            switch (name)
            {
                case "--client-interface": client = Interface(value); break;
                case "--server-interface": server = Interface(value); break;
                case "--seed": seed = Integer(value, 0, int.MaxValue); break;
                case "--compensation-ns": compensation = Delay(value); break;
                case "--parent-pid": parent = Integer(value, 1, int.MaxValue); break;
                case "--realtime-priority": realtime = Integer(value, 0, 99); break;
                case "--queue-bytes": queueBytes = Integer(value, 1 << 16, 1 << 30); break;
                default:
                    string direction = name.StartsWith("--client-to-server-", StringComparison.Ordinal) ? "client-to-server"
                        : name.StartsWith("--server-to-client-", StringComparison.Ordinal) ? "server-to-client"
                        : throw new FormatException($"unknown argument {name}");
                    var l = links[direction];
                    links[direction] = name[(direction.Length + 3)..] switch
                    {
                        "delay-ns" => l with { Delay = Delay(value) },
                        "jitter-ns" => l with { Jitter = Delay(value) },
                        "loss" => l with { Loss = Probability(value) },
                        "duplicate" => l with { Duplicate = Probability(value) },
                        "rate-bps" => l with { RateBitsPerSecond = Integer64(value, 0, 1_000_000_000_000) },
                        "rate-queue-bytes" => l with { RateQueueBytes = Integer(value, 1514, 1 << 30) },
                        _ => throw new FormatException($"unknown argument {name}"),
                    };
                    break;
            }
        }
        var settings = new DelayLineSettings
        {
            ClientInterface = client ?? throw new FormatException("--client-interface is required"),
            ServerInterface = server ?? throw new FormatException("--server-interface is required"),
            ClientToServer = links["client-to-server"],
            ServerToClient = links["server-to-client"],
            Seed = seed ?? 0,
            Compensation = compensation,
            ParentProcessId = parent,
            Detach = detach,
        };
        foreach (var (direction, link) in links)
        {
            try
            {
                link.Validate(direction);
            }
            catch (ArgumentException e)
            {
                throw new FormatException(e.Message, e);
            }
        }
        if (realtime is int r) settings = settings with { RealtimePriority = r };
        if (queueBytes is int q) settings = settings with { QueueBytes = q };
        return settings;
    }

    private static string Nanoseconds(TimeSpan delay) => (delay.Ticks * 100).ToString(CultureInfo.InvariantCulture);

    private static string Fraction(double p) => p.ToString("R", CultureInfo.InvariantCulture);

    private static double Probability(string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double p) && p is >= 0 and < 1
            ? p
            : throw new FormatException($"'{value}' is not a probability in [0, 1)");

    private static TimeSpan Delay(string value)
    {
        long ns = Integer64(value, 0, 3_600_000_000_000);
        return TimeSpan.FromTicks(ns / 100);
    }

    private static string Interface(string value) =>
        value.Length is > 0 and <= 15 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? value
            : throw new FormatException($"bad interface name '{value}'");

    private static int Integer(string value, int min, int max) => (int)Integer64(value, min, max);

    private static long Integer64(string value, long min, long max) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n >= min && n <= max
            ? n
            : throw new FormatException($"'{value}' is not an integer in [{min}, {max}]");
}
