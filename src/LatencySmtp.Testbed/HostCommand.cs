using System.Diagnostics;

namespace LatencySmtp.Testbed;

/// <summary>The host's network tools (ip, nft, ethtool, sysctl) for the testbed: failures become <see cref="TestbedException"/>.</summary>
internal static class HostCommand
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    public sealed record Result(int ExitCode, string StandardOutput, string StandardError);

    /// <summary>Runs the command and throws <see cref="TestbedException"/> unless it exits with 0.</summary>
    public static string Run(string file, IEnumerable<string> args, string? standardInput = null, TimeSpan? timeout = null)
    {
        var result = TryRun(file, args, standardInput, timeout);
        if (result.ExitCode != 0)
            throw new TestbedException($"'{file} {string.Join(' ', args)}' exited with {result.ExitCode}: {result.StandardError.Trim()}");
        return result.StandardOutput;
    }

    public static Result TryRun(string file, IEnumerable<string> args, string? standardInput = null, TimeSpan? timeout = null)
    {
        try
        {
            var (code, stdout, stderr) = Transport.Linux.HostCommand.TryRun(file, args, standardInput, timeout ?? DefaultTimeout);
            return new Result(code, stdout, stderr);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            throw new TestbedException(e.Message, e);
        }
    }

    /// <summary>ip [-n ns] args...</summary>
    public static string Ip(string? ns, params string[] args) =>
        Run("ip", ns is null ? args : ["-n", ns, .. args]);

    /// <summary>ip netns exec ns args...</summary>
    public static string InNamespace(string ns, string file, IEnumerable<string> args, string? standardInput = null) =>
        Run("ip", ["netns", "exec", ns, file, .. args], standardInput);

    public static Result TryInNamespace(string ns, string file, IEnumerable<string> args, string? standardInput = null) =>
        TryRun("ip", ["netns", "exec", ns, file, .. args], standardInput);
}

/// <summary>A testbed could not be built or torn down.</summary>
public sealed class TestbedException(string message, Exception? inner = null) : Exception(message, inner);
