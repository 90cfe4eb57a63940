using System.Net;

namespace LatencySmtp.Cli.Commands;

internal static class Endpoints
{
    /// <summary>
    /// Prints a table. Redirected output (CI, tee, a pipe) has no terminal width: do not squash the table
    /// into Spectre's default 80 columns.
    /// </summary>
    public static void WriteTable(Spectre.Console.Table table)
    {
        if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 250;
        Spectre.Console.AnsiConsole.Write(table);
    }

    public static IPEndPoint Parse(string text, string what)
    {
        if (IPEndPoint.TryParse(text, out var ep) && ep.Port != 0) return ep;
        throw new ArgumentException($"{what} '{text}' is not IP:PORT (for example 10.0.0.2:2525)");
    }

    /// <summary>Runs a command body and turns the errors a user can cause into one clear line and exit code 1.</summary>
    public static async Task<int> Guard(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidDataException or InvalidOperationException or UnauthorizedAccessException
                                       or NotSupportedException or FormatException or TimeoutException
                                       or LatencySmtp.Experiments.Specs.ExperimentSpecException or System.Net.Sockets.SocketException)
        {
            Console.Error.WriteLine($"latency-smtp: {e.Message}");
            return 1;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("LATENCY_SMTP_TRACE") != "1")
        {
            // Anything else (a library's own exception on a bad file, say) is still one line; the whole trace
            // with LATENCY_SMTP_TRACE=1.
            Console.Error.WriteLine($"latency-smtp: {e.Message} ({e.GetType().Name}; LATENCY_SMTP_TRACE=1 shows where)");
            return 1;
        }
    }

    public static void RequireRoot(string why)
    {
        if (Environment.UserName != "root" && !string.Equals(Environment.GetEnvironmentVariable("USER"), "root", StringComparison.Ordinal))
            throw new UnauthorizedAccessException($"{why} needs root (network namespaces, raw sockets, nftables): run it with sudo");
    }
}
