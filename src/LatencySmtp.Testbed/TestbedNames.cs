using System.Text.RegularExpressions;

namespace LatencySmtp.Testbed;

/// <summary>
/// Names of a testbed's parts. A default name "lsm-&lt;pid&gt;-&lt;n&gt;" carries its owner's pid, so a
/// testbed left behind by a killed process can be recognised and removed; its namespaces are the name
/// plus "-c", "-m", "-s".
/// </summary>
public static partial class TestbedNames
{
    public const string Prefix = "lsm";
    public const string NamespaceDirectory = "/var/run/netns";
    private static int counter;

    public static string ClientNamespace(string name) => name + "-c";
    public static string MiddleNamespace(string name) => name + "-m";
    public static string ServerNamespace(string name) => name + "-s";
    public static IReadOnlyList<string> Namespaces(string name) => [ClientNamespace(name), MiddleNamespace(name), ServerNamespace(name)];

    /// <summary>The nftables table (family netdev) in the client and server namespaces.</summary>
    public static string NftTable(string name) => name.Replace('-', '_').Replace('.', '_');

    /// <summary>A fresh default name: the counter skips names whose namespaces already exist (left by an
    /// earlier process with the same pid).</summary>
    public static string NextDefault()
    {
        for (int attempt = 0; attempt < 10_000; attempt++)
        {
            string name = $"{Prefix}-{Environment.ProcessId}-{Interlocked.Increment(ref counter)}";
            if (!Namespaces(name).Any(ns => File.Exists(Path.Combine(NamespaceDirectory, ns)))) return name;
        }
        throw new TestbedException("no free testbed name");
    }

    public static bool IsValid(string name) => ValidName().IsMatch(name);

    /// <summary>The owner pid of a default-style name "lsm-&lt;pid&gt;-&lt;n&gt;".</summary>
    public static bool TryParseOwner(string name, out int pid)
    {
        var match = DefaultName().Match(name);
        pid = 0;
        return match.Success && int.TryParse(match.Groups[1].ValueSpan, out pid);
    }

    /// <summary>Testbed names that have at least one namespace on this host, from the namespace names.</summary>
    public static IReadOnlyList<string> ExistingTestbeds()
    {
        if (!Directory.Exists(NamespaceDirectory)) return [];
        return Directory.EnumerateFiles(NamespaceDirectory)
            .Select(Path.GetFileName)
            .Select(ns => NamespaceName().Match(ns!))
            .Where(m => m.Success)
            .Select(m => m.Groups[1].Value)
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]
    private static partial Regex ValidName();

    [GeneratedRegex(@"^lsm-([0-9]{1,10})-([0-9]{1,10})$")]
    private static partial Regex DefaultName();

    [GeneratedRegex(@"^([A-Za-z0-9][A-Za-z0-9_.-]{0,39})-[cms]$")]
    private static partial Regex NamespaceName();
}
