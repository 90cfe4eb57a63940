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
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            if (stdin is not null) p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        catch (IOException)
        {
            // the tool exited without reading its input: its exit code and stderr tell why
        }
        var limit = timeout ?? TimeSpan.FromSeconds(20);
        if (!p.WaitForExit(limit))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit(TimeSpan.FromSeconds(5));
            throw new TimeoutException($"'{file} {string.Join(' ', args)}' did not finish within {limit.TotalSeconds} s");
        }
        p.WaitForExit();   // drains the redirected streams
        return (p.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    /// <summary>Runs <paramref name="file"/> inside network namespace <paramref name="netns"/> (null: here).</summary>
    public static string RunIn(string? netns, string file, IEnumerable<string> args, string? stdin = null) =>
        netns is null ? Run(file, args, stdin) : Run("ip", new[] { "netns", "exec", netns, file }.Concat(args), stdin);
}
