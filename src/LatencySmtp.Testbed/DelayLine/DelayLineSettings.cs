using System.Globalization;

namespace LatencySmtp.Testbed;

/// <summary>The delay line's command line (after "__delay-line"), parsed strictly and formatted back.</summary>
public sealed record DelayLineSettings
{
    public required string ClientInterface { get; init; }
    public required string ServerInterface { get; init; }
    public TimeSpan DelayClientToServer { get; init; }
    public TimeSpan DelayServerToClient { get; init; }
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
            "--client-to-server-delay-ns", Nanoseconds(DelayClientToServer),
            "--server-to-client-delay-ns", Nanoseconds(DelayServerToClient),
            "--realtime-priority", RealtimePriority.ToString(CultureInfo.InvariantCulture),
            "--queue-bytes", QueueBytes.ToString(CultureInfo.InvariantCulture),
        };
        if (ParentProcessId is int pid) args.AddRange(["--parent-pid", pid.ToString(CultureInfo.InvariantCulture)]);
        if (Detach) args.Add("--detach");
        return args;
    }

    /// <exception cref="FormatException">unknown, missing, repeated or malformed arguments.</exception>
    public static DelayLineSettings Parse(IReadOnlyList<string> args)
    {
        string? client = null, server = null;
        TimeSpan? toServer = null, toClient = null;
        int? parent = null, realtime = null, queueBytes = null;
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
            if (i + 1 >= args.Count) throw new FormatException($"{name} needs a value");
            string value = args[++i];
            switch (name)
            {
                case "--client-interface": client = Interface(value); break;
                case "--server-interface": server = Interface(value); break;
                case "--client-to-server-delay-ns": toServer = Delay(value); break;
                case "--server-to-client-delay-ns": toClient = Delay(value); break;
                case "--parent-pid": parent = Integer(value, 1, int.MaxValue); break;
                case "--realtime-priority": realtime = Integer(value, 0, 99); break;
                case "--queue-bytes": queueBytes = Integer(value, 1 << 16, 1 << 30); break;
                default: throw new FormatException($"unknown argument {name}");
            }
        }
        var settings = new DelayLineSettings
        {
            ClientInterface = client ?? throw new FormatException("--client-interface is required"),
            ServerInterface = server ?? throw new FormatException("--server-interface is required"),
            DelayClientToServer = toServer ?? TimeSpan.Zero,
            DelayServerToClient = toClient ?? TimeSpan.Zero,
            ParentProcessId = parent,
            Detach = detach,
        };
        if (realtime is int r) settings = settings with { RealtimePriority = r };
        if (queueBytes is int q) settings = settings with { QueueBytes = q };
        return settings;
    }

    private static string Nanoseconds(TimeSpan delay) => (delay.Ticks * 100).ToString(CultureInfo.InvariantCulture);

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
