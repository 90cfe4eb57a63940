using System.CommandLine;
using System.Globalization;
using LatencySmtp.Testbed;

namespace LatencySmtp.Cli.Commands;

internal static class TestbedCommand
{
    public static Command Create()
    {
        var delay = new Option<string>("--delay") { Description = "one-way delay each way, e.g. 25ms", DefaultValueFactory = _ => "25ms" };
        var delayToServer = new Option<string?>("--delay-to-server") { Description = "one-way delay client->server (overrides --delay)" };
        var delayToClient = new Option<string?>("--delay-to-client") { Description = "one-way delay server->client (overrides --delay)" };
        var jitter = new Option<string>("--jitter") { Description = "jitter each way, uniform in ±J, no reordering, e.g. 1ms", DefaultValueFactory = _ => "0ms" };
        var loss = new Option<string>("--loss") { Description = "random loss each way, e.g. 1% or 0.01", DefaultValueFactory = _ => "0" };
        var duplicate = new Option<string>("--duplicate") { Description = "duplication each way, e.g. 0.1%", DefaultValueFactory = _ => "0" };
        var rate = new Option<string>("--rate") { Description = "rate limit each way, e.g. 10mbit, 512kbit (default: unlimited)", DefaultValueFactory = _ => "0" };
        var seed = new Option<int>("--seed") { Description = "seed of the emulator's randomness", DefaultValueFactory = _ => 1 };
        var emulator = new Option<string>("--emulator") { Description = "auto (netem where the kernel has it), netem, or userspace", DefaultValueFactory = _ => "auto" };
        var testbedName = new Option<string?>("--name") { Description = "testbed name (default: lsm-<pid>-<n>)" };
        var json = new Option<bool>("--json") { Description = "print the namespaces and addresses as JSON" };
        var up = new Command("up", "Create a client/server namespace pair joined by the emulated link, and leave it for manual work")
        {
            delay, delayToServer, delayToClient, jitter, loss, duplicate, rate, seed, emulator, testbedName, json,
        };
        up.SetAction(pr => Endpoints.Guard(() =>
        {
            Endpoints.RequireRoot("testbed up");
            var d = ParseDuration(pr.GetValue(delay)!);
            var options = new TestbedOptions
            {
                DelayClientToServer = pr.GetValue(delayToServer) is { } ts ? ParseDuration(ts) : d,
                DelayServerToClient = pr.GetValue(delayToClient) is { } tc ? ParseDuration(tc) : d,
                Jitter = ParseDuration(pr.GetValue(jitter)!),
                Loss = ParseProbability(pr.GetValue(loss)!),
                Duplicate = ParseProbability(pr.GetValue(duplicate)!),
                RateBitsPerSecond = ParseRate(pr.GetValue(rate)!),
                Seed = pr.GetValue(seed),
                Emulator = ParseEmulator(pr.GetValue(emulator)!),
                Name = pr.GetValue(testbedName),
                OwnedByThisProcess = false,
            };
            try
            {
                var state = TestbedCommands.Up(options);
                Console.WriteLine(pr.GetValue(json) ? state.ToJson() : Describe(state));
                return Task.FromResult(0);
            }
            catch (TestbedException e)
            {
                Console.Error.WriteLine($"latency-smtp: {e.Message}");
                return Task.FromResult(1);
            }
        }));
        var name = new Option<string?>("--name") { Description = "testbed to remove (default: all made by testbed up)" };
        var down = new Command("down", "Remove testbeds made by testbed up: namespaces, nft tables, delay line") { name };
        down.SetAction(pr => Endpoints.Guard(() =>
        {
            Endpoints.RequireRoot("testbed down");
            try
            {
                var only = pr.GetValue(name);
                var removed = TestbedCommands.Down(only);
                if (only is not null && removed == 0)
                {
                    Console.Error.WriteLine($"latency-smtp: no testbed named '{only}' (testbed up prints the names)");
                    return Task.FromResult(1);
                }
                Console.WriteLine($"removed {removed} testbed(s)");
                return Task.FromResult(0);
            }
            catch (TestbedException e)
            {
                Console.Error.WriteLine($"latency-smtp: {e.Message}");
                return Task.FromResult(1);
            }
        }));
        return new Command("testbed", "Manage the namespace testbed") { up, down };
    }

    private static string Describe(TestbedState s) => $$"""
        testbed {{s.Name}} is up ({{s.EmulatorBackend}}, seed {{s.Seed}})
          link    client->server {{s.ClientToServer}}; server->client {{s.ServerToClient}}
          client  namespace {{s.ClientNamespace}}, {{s.ClientInterface}} {{s.ClientAddress}}/{{s.PrefixLength}}
          server  namespace {{s.ServerNamespace}}, {{s.ServerInterface}} {{s.ServerAddress}}/{{s.PrefixLength}}
          try:    ip netns exec {{s.ClientNamespace}} ping -c 3 {{s.ServerAddress}}
          remove: latency-smtp testbed down --name {{s.Name}}
        """;

    /// <summary>"25ms", "250us", "1.5s", or a bare number of milliseconds.</summary>
    public static TimeSpan ParseDuration(string text)
    {
        text = text.Trim().ToLowerInvariant();
        double Num(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 && double.IsFinite(v)
            ? v : throw new FormatException($"'{text}' is not a duration such as 25ms, 250us or 1s");
        // A one-way delay beyond an hour is no link this tool emulates (and beyond TimeSpan, an overflow).
        TimeSpan Bounded(double ms) => ms <= 3_600_000 ? TimeSpan.FromMilliseconds(ms)
            : throw new FormatException($"'{text}' is longer than an hour");
        if (text.EndsWith("ms", StringComparison.Ordinal)) return Bounded(Num(text[..^2]));
        if (text.EndsWith("us", StringComparison.Ordinal)) return Bounded(Num(text[..^2]) / 1000);
        if (text.EndsWith('s')) return Bounded(Num(text[..^1]) * 1000);
        return Bounded(Num(text));
    }

    /// <summary>"1%" or "0.01": a probability in [0, 1).</summary>
    public static double ParseProbability(string text)
    {
        text = text.Trim();
        bool percent = text.EndsWith('%');
        if (!double.TryParse(percent ? text[..^1] : text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            throw new FormatException($"'{text}' is not a probability such as 1% or 0.01");
        if (percent) v /= 100;
        return v is >= 0 and < 1 ? v : throw new FormatException($"'{text}' must be at least 0 and below 100%");
    }

    /// <summary>tc's rate units: "10mbit", "512kbit", "1gbit", "64000bit" (bits per second); "0": unlimited.</summary>
    public static long ParseRate(string text)
    {
        text = text.Trim().ToLowerInvariant();
        (string suffix, double factor)[] units = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1), ("bps", 8)];
        foreach (var (suffix, factor) in units)
            if (text.EndsWith(suffix, StringComparison.Ordinal))
                return Bits(text[..^suffix.Length], factor, text);
        return Bits(text, 1, text);
    }

    private static long Bits(string number, double factor, string text) =>
        double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0 && v * factor <= 1e12
            ? (long)Math.Round(v * factor)
            : throw new FormatException($"'{text}' is not a rate such as 10mbit");

    public static EmulatorChoice ParseEmulator(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => EmulatorChoice.Auto,
        "netem" => EmulatorChoice.Netem,
        "userspace" or "userspace-delay-line" or "delay-line" => EmulatorChoice.UserspaceDelayLine,
        _ => throw new FormatException($"'{text}': --emulator is auto, netem or userspace"),
    };
}
