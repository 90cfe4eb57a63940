using System.Globalization;
using LatencySmtp.Transport;
using LatencySmtp.Smtp;
using Tomlyn;
using Tomlyn.Model;

namespace LatencySmtp.Experiments.Specs;

/// <summary>One experiment, as written in <c>experiments/NAME.toml</c>: the grid of cells and how often each runs.</summary>
public sealed partial record ExperimentSpec
{
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    public required IReadOnlyList<SmtpVariant> Variants { get; init; }
    public IReadOnlyList<double> RttMs { get; init; } = [50];
    public IReadOnlyList<int> SizeBytes { get; init; } = [1024];
    public IReadOnlyList<int> Recipients { get; init; } = [1];
    public IReadOnlyList<double> Loss { get; init; } = [0];
    /// <summary>
    /// "first": every transaction on fresh host state (new client and server hosts: empty TAO and cookie
    /// caches, kernel tcp_metrics flushed), so it is a first contact; "repeat": the same hosts as before.
    /// First-contact cells run before repeat cells in each repetition and never get warm-up transactions.
    /// </summary>
    public IReadOnlyList<Contact> Contact { get; init; } = [Specs.Contact.Repeat];
    public int Repetitions { get; init; } = 20;
    public int Seed { get; init; } = 1;
    /// <summary>Transactions per cell run before the measured ones and not recorded (JIT, caches).</summary>
    public int Warmup { get; init; } = 1;
    /// <summary>Pause between two transactions, so that one's closing segments never overlap the next one's opening.</summary>
    public double GapMs { get; init; } = 20;
    public double TimeoutSeconds { get; init; } = 20;

    public string? SourcePath { get; init; }
    /// <summary>"transactions" (the default grid) or "emulator-accuracy" (then <see cref="Accuracy"/> holds the plan).</summary>
    public string Kind { get; init; } = "transactions";
    public LatencySmtp.Experiments.Accuracy.AccuracySpec? Accuracy { get; init; }

    public int CellCount => Variants.Count * RttMs.Count * SizeBytes.Count * Recipients.Count * Loss.Count * Contact.Count;

    public static ExperimentSpec Load(string path)
    {
        var text = File.ReadAllText(path);
        try
        {
            return Parse(text, Path.GetFileNameWithoutExtension(path)) with { SourcePath = Path.GetFullPath(path) };
        }
        catch (Exception e) when (e is not ExperimentSpecException)
        {
            throw new ExperimentSpecException($"{path}: {e.Message}", e);
        }
    }

    public static ExperimentSpec Parse(string toml, string defaultName)
    {
        var table = TomlSerializer.Deserialize<TomlTable>(toml) ?? throw new ExperimentSpecException("empty TOML document");
        var known = new HashSet<string> { "name", "description", "variants", "rtt_ms", "size_bytes", "recipients", "loss", "contact", "repetitions", "seed", "warmup", "gap_ms", "timeout_s", "kind" };
        if (table.TryGetValue("kind", out var kind) && kind is string k && k == LatencySmtp.Experiments.Accuracy.AccuracySpec.Kind)
        {
            foreach (var key in table.Keys)
                if (key is not ("name" or "description" or "kind" or "seed") && !LatencySmtp.Experiments.Accuracy.AccuracySpec.Keys.Contains(key))
                    throw new ExperimentSpecException($"unknown key '{key}' for kind '{k}' (known: name, description, kind, seed, {string.Join(", ", LatencySmtp.Experiments.Accuracy.AccuracySpec.Keys)})");
            return new ExperimentSpec
            {
                Name = ValidName(Text(table, "name") ?? defaultName),
                Description = Text(table, "description") ?? "",
                Kind = k,
                Variants = [],
                Seed = Integer(table, "seed") ?? 1,
                Accuracy = LatencySmtp.Experiments.Accuracy.AccuracySpec.FromToml(table),
            };
        }
        if (table.TryGetValue("kind", out var other) && other is not "transactions")
            throw new ExperimentSpecException($"unknown kind '{other}' (known: transactions, {LatencySmtp.Experiments.Accuracy.AccuracySpec.Kind})");
        foreach (var key in table.Keys)
            if (!known.Contains(key))
                throw new ExperimentSpecException($"unknown key '{key}' (known: {string.Join(", ", known)})");
        var variants = Strings(table, "variants") ?? throw new ExperimentSpecException("'variants' is required");
        var spec = new ExperimentSpec
        {
            Name = Text(table, "name") ?? defaultName,
            Description = Text(table, "description") ?? "",
            Variants = ParseVariants(variants),
            RttMs = Numbers(table, "rtt_ms") ?? [50],
            SizeBytes = Integers(table, "size_bytes") ?? [1024],
            Recipients = Integers(table, "recipients") ?? [1],
            Loss = Numbers(table, "loss") ?? [0],
            Contact = Strings(table, "contact")?.Select(ParseContact).Distinct().OrderBy(c => c).ToList() ?? [Specs.Contact.Repeat],
            Repetitions = Integer(table, "repetitions") ?? 20,
            Seed = Integer(table, "seed") ?? 1,
            Warmup = Integer(table, "warmup") ?? 1,
            GapMs = Number(table, "gap_ms") ?? 20,
            TimeoutSeconds = Number(table, "timeout_s") ?? 20,
        };
        spec.Validate();
        return spec;
    }

    private void Validate()
    {
        ValidName(Name);
        if (Contact.Count == 0) throw new ExperimentSpecException("'contact' is empty");
        if (Variants.Count == 0) throw new ExperimentSpecException("'variants' is empty");
        if (Variants.Distinct().Count() != Variants.Count) throw new ExperimentSpecException("'variants' lists a variant twice");
        foreach (var (key, values) in new[] { ("rtt_ms", RttMs.Count), ("size_bytes", SizeBytes.Count), ("recipients", Recipients.Count), ("loss", Loss.Count) })
            if (values == 0) throw new ExperimentSpecException($"'{key}' is empty");
        if (Repetitions is < 1 or > 100_000) throw new ExperimentSpecException("'repetitions' must be 1..100000");
        if (Warmup is < 0 or > 100) throw new ExperimentSpecException("'warmup' must be 0..100");
        // NaN fails every comparison: each range is written so that NaN lands outside it.
        if (RttMs.Any(x => !(x is >= 0 and <= 10_000))) throw new ExperimentSpecException("'rtt_ms' values must be 0..10000");
        var limits = SmtpLimits.Rfc5321;   // what the servers accept: beyond it every transaction would be refused
        if (SizeBytes.Any(x => x < 1 || x > limits.MaxMessageOctets))
            throw new ExperimentSpecException($"'size_bytes' values must be 1..{limits.MaxMessageOctets} (the servers' SIZE limit)");
        if (Recipients.Any(x => x < 1 || x > limits.MaxRecipients))
            throw new ExperimentSpecException($"'recipients' values must be 1..{limits.MaxRecipients} (the servers' recipient limit, RFC 5321 §4.5.3.1.8)");
        if (Loss.Any(x => !(x is >= 0 and < 1))) throw new ExperimentSpecException("'loss' values are fractions in [0, 1)");
        if (!(GapMs is >= 0 and <= 60_000)) throw new ExperimentSpecException("'gap_ms' must be 0..60000");
        if (!(TimeoutSeconds is > 0 and <= 3600)) throw new ExperimentSpecException("'timeout_s' must be above 0 and at most 3600");
        foreach (var v in Variants)
            if (!v.IsImplemented())
                throw new ExperimentSpecException($"variant '{v.Name()}' is not implemented yet (implemented: {string.Join(", ", Enum.GetValues<SmtpVariant>().Where(x => x.IsImplemented()).Select(x => x.Name()))})");
    }

    /// <summary>The name names the result folder (results/NAME) and goes into each test message's Subject.</summary>
    private static string ValidName(string name) => NameRule().IsMatch(name) ? name
        : throw new ExperimentSpecException($"'name' '{name}' must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (it names the result folder)");

    [System.Text.RegularExpressions.GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial System.Text.RegularExpressions.Regex NameRule();

    private static Contact ParseContact(string s) => s.Trim().ToLowerInvariant() switch
    {
        "first" => Specs.Contact.First,
        "repeat" => Specs.Contact.Repeat,
        _ => throw new ExperimentSpecException($"unknown contact '{s}' (known: first, repeat)"),
    };

    private static List<SmtpVariant> ParseVariants(IEnumerable<string> names)
    {
        try
        {
            return names.Select(SmtpVariants.Parse).ToList();
        }
        catch (ArgumentException e)
        {
            throw new ExperimentSpecException(e.Message, e);
        }
    }

    private static List<string>? Strings(TomlTable t, string key) =>
        t.TryGetValue(key, out var v) ? v switch
        {
            TomlArray a => a.Select(x => Convert.ToString(x, CultureInfo.InvariantCulture) ?? "").ToList(),
            string s => [s],
            _ => throw new ExperimentSpecException($"'{key}' must be a string or an array of strings"),
        } : null;

    private static List<double>? Numbers(TomlTable t, string key) =>
        t.TryGetValue(key, out var v) ? v switch
        {
            TomlArray a => a.Select(x => AsNumber(x, key)).ToList(),
            long or double or int => [AsNumber(v, key)],
            _ => throw new ExperimentSpecException($"'{key}' must be a number or an array of numbers"),
        } : null;

    private static List<int>? Integers(TomlTable t, string key) => Numbers(t, key)?.Select(x => AsInteger(x, key)).ToList();

    private static double? Number(TomlTable t, string key) =>
        t.TryGetValue(key, out var v) ? v is long or double or int ? AsNumber(v, key) : throw new ExperimentSpecException($"'{key}' must be a number") : null;

    private static int? Integer(TomlTable t, string key) => Number(t, key) is { } x ? AsInteger(x, key) : null;

    private static string? Text(TomlTable t, string key) =>
        t.TryGetValue(key, out var v) ? v as string ?? throw new ExperimentSpecException($"'{key}' must be a string") : null;

    private static double AsNumber(object? x, string key) => x is long or double or int
        ? Convert.ToDouble(x, CultureInfo.InvariantCulture)
        : throw new ExperimentSpecException($"'{key}' must hold numbers, not '{x}'");

    private static int AsInteger(double x, string key) => x == Math.Floor(x) && x is >= int.MinValue and <= int.MaxValue
        ? (int)x
        : throw new ExperimentSpecException($"'{key}' must hold whole numbers, not {x.ToString(CultureInfo.InvariantCulture)}");
}

/// <summary>Whether a transaction is the client's first contact with the server (cold caches) or a repeat.</summary>
public enum Contact { First, Repeat }

public static class Contacts
{
    public static string Name(this Contact c) => c == Contact.First ? "first" : "repeat";
}

public sealed class ExperimentSpecException(string message, Exception? inner = null) : Exception(message, inner);
