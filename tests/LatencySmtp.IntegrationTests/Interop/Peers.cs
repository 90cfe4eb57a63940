using System.Diagnostics;

namespace LatencySmtp.IntegrationTests.Interop;

/// <summary>Runs a real peer program (swaks, python3) with a time limit and captures its output.</summary>
internal static class Peers
{
    public static (int Code, string Output) Run(string file, IEnumerable<string> args, string? stdin = null, int timeoutSeconds = 30)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeoutSeconds} s: {output.Result}{error.Result}");
        }
        p.WaitForExit();
        return (p.ExitCode, output.Result + error.Result);
    }

    public static string DataFile(string name) => Path.Combine(AppContext.BaseDirectory, "data", name);
}
