using System.Text.Json;

namespace LatencySmtp.Testbed;

/// <summary>What a testbed looks like from outside: written by `testbed up`, read by `testbed down` and experiments.</summary>
public sealed record TestbedState
{
    public required string Name { get; init; }
    public required string ClientNamespace { get; init; }
    public required string MiddleNamespace { get; init; }
    public required string ServerNamespace { get; init; }
    public required string ClientInterface { get; init; }
    public required string ServerInterface { get; init; }
    public required string ClientAddress { get; init; }
    public required string ServerAddress { get; init; }
    public int PrefixLength { get; init; }
    public double DelayClientToServerMs { get; init; }
    public double DelayServerToClientMs { get; init; }
    /// <summary>The whole link each way, e.g. "25 ms ±1 ms, loss 1%".</summary>
    public string? ClientToServer { get; init; }
    public string? ServerToClient { get; init; }
    public int Seed { get; init; }
    /// <summary>How much earlier the delay line releases frames each way (its own measured path latency).</summary>
    public double ForwardingCompensationMs { get; init; }
    public ushort[] RawServerPorts { get; init; } = [];
    public string? NftTable { get; init; }
    public required string EmulatorBackend { get; init; }
    public int DelayLineProcessId { get; init; }
    public DateTimeOffset CreatedUtc { get; init; }

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static TestbedState FromJson(string json) =>
        JsonSerializer.Deserialize<TestbedState>(json, Json) ?? throw new FormatException("empty testbed state");
}

/// <summary>The work behind `latency-smtp testbed up|down`: testbeds that outlive the command.</summary>
public static class TestbedCommands
{
    public const string StateDirectory = "/run/latency-smtp/testbeds";

    public static string StatePath(string name) => Path.Combine(StateDirectory, name + ".json");

    /// <summary>Creates a testbed that outlives this process and records it in <see cref="StateDirectory"/>.</summary>
    public static TestbedState Up(TestbedOptions options)
    {
        var testbed = Testbed.Create(options with { OwnedByThisProcess = false });
        try
        {
            var state = testbed.CaptureState();
            Directory.CreateDirectory(StateDirectory);
            string path = StatePath(state.Name), temporary = path + ".tmp";
            File.WriteAllText(temporary, state.ToJson());
            File.Move(temporary, path, overwrite: true);
            testbed.Detach();
            return state;
        }
        catch
        {
            testbed.Dispose();
            throw;
        }
    }

    /// <summary>Testbeds recorded by <see cref="Up"/>.</summary>
    public static IReadOnlyList<TestbedState> List()
    {
        if (!Directory.Exists(StateDirectory)) return [];
        var states = new List<TestbedState>();
        foreach (var file in Directory.EnumerateFiles(StateDirectory, "*.json").Order(StringComparer.Ordinal))
        {
            try
            {
                states.Add(TestbedState.FromJson(File.ReadAllText(file)));
            }
            catch (Exception e) when (e is JsonException or FormatException or IOException)
            {
                // a torn or foreign file: Down(name) still removes it by name
            }
        }
        return states;
    }

    /// <summary>Removes the named testbed (state file or not), or with null every recorded testbed plus
    /// stale ones of dead processes. Testbeds of live processes are never touched by the null form.
    /// Returns how many testbeds were removed.</summary>
    public static int Down(string? name)
    {
        if (name is not null)
        {
            if (!TestbedNames.IsValid(name)) throw new ArgumentException($"bad testbed name '{name}'", nameof(name));
            bool existed = TestbedNames.Namespaces(name).Any(Transport.Linux.NetNamespace.Exists);
            var errors = Testbed.Teardown(name);
            bool hadState = File.Exists(StatePath(name));
            File.Delete(StatePath(name));
            if (errors.Count > 0) throw new TestbedException($"removing testbed {name}: {string.Join("; ", errors)}");
            return existed || hadState ? 1 : 0;
        }
        int removed = 0;
        var names = Directory.Exists(StateDirectory)
            ? Directory.EnumerateFiles(StateDirectory, "*.json").Select(Path.GetFileNameWithoutExtension).OfType<string>().Where(TestbedNames.IsValid).ToList()
            : [];
        foreach (var recorded in names) removed += Down(recorded);
        return removed + Testbed.RemoveStale();
    }
}
