using System.Diagnostics;

namespace LatencySmtp.Transport.Linux;

/// <summary>Runs a system tool (ip, nft, ethtool) with a time limit and fails with its stderr.</summary>
public static class HostCommand
{
    public static string Run(string file, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        var (code, stdout, stderr) = TryRun(file, args, stdin, timeout);
        if (code != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({code}): {stderr.Trim()}");
        return stdout;
    }

    public static (int ExitCode, string Stdout, string Stderr) TryRun(string file, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromSeconds(20)))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in time");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs <paramref name="file"/> inside network namespace <paramref name="netns"/> (null: here).</summary>
    public static string RunIn(string? netns, string file, IEnumerable<string> args, string? stdin = null) =>
        netns is null ? Run(file, args, stdin) : Run("ip", new[] { "netns", "exec", netns, file }.Concat(args), stdin);
}
