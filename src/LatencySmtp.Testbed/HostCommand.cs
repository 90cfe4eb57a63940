using System.Diagnostics;

namespace LatencySmtp.Testbed;

/// <summary>Runs the host's network tools (ip, nft, ethtool, sysctl) with a bounded wait.</summary>
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
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new TestbedException($"cannot start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            if (standardInput is not null) process.StandardInput.Write(standardInput);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // the tool exited without reading its input: its exit code and stderr tell why
        }
        if (!process.WaitForExit(timeout ?? DefaultTimeout))
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit(TimeSpan.FromSeconds(5));
            throw new TestbedException($"'{file} {string.Join(' ', args)}' did not finish within {(timeout ?? DefaultTimeout).TotalSeconds} s");
        }
        process.WaitForExit();   // drains the redirected streams
        return new Result(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
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
