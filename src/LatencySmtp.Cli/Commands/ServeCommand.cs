using System.CommandLine;
using LatencySmtp.Smtp;
using LatencySmtp.Transport;
using LatencySmtp.Transport.Delivery;
using LatencySmtp.Transport.Variants;

namespace LatencySmtp.Cli.Commands;

internal static class ServeCommand
{
    public static Command Create()
    {
        var variant = new Option<string>("--variant") { Description = "classic | pipelined | early-pipe | tfo | ttcp | ttcp-cookie (those implemented)", DefaultValueFactory = _ => "classic" };
        var listen = new Option<string>("--listen") { Description = "IP:PORT to serve on", Required = true };
        var maildir = new Option<string>("--maildir") { Description = "Maildir that receives every accepted message", Required = true };
        var hostname = new Option<string>("--hostname") { Description = "name the server gives in its greeting", DefaultValueFactory = _ => Environment.MachineName };
        var netns = new Option<string?>("--netns") { Description = "network namespace to serve in (default: the current one)" };
        var cmd = new Command("serve", "Run an SMTP server for one variant until Ctrl-C") { variant, listen, maildir, hostname, netns };
        cmd.SetAction((pr, cancel) => Endpoints.Guard(async () =>
        {
            var v = SmtpVariants.Parse(pr.GetValue(variant)!);
            var ep = Endpoints.Parse(pr.GetValue(listen)!, "--listen");
            var box = new Maildir(pr.GetValue(maildir)!);
            var ns = pr.GetValue(netns);
            var smtp = new ServerOptions { HostName = pr.GetValue(hostname)!, Software = $"LatencySmtp/{typeof(ServeCommand).Assembly.GetName().Version?.ToString(3)}" };
            if (v.IsRaw()) Endpoints.RequireRoot($"serve --variant {v.Name()}");
            if (v == SmtpVariant.Tfo && LatencySmtp.Transport.Kernel.SocketOptions.FastOpenWarning(2, ns) is { } tfoWarning)
                Console.Error.WriteLine($"warning: {tfoWarning}");
            await using var server = VariantFactory.StartServer(v, new ServerSetup(ep, ns, box, smtp, Log: Console.Error));
            Console.WriteLine($"{v.Name()} SMTP server on {server.Endpoint}{(v.IsRaw() ? " (user-space TCP; the kernel is silenced for this port)" : "")}, Maildir {box.Root}; Ctrl-C stops");
            await WaitForCancel(cancel);
            Console.WriteLine($"delivered {server.Delivered} message(s)");
            return 0;
        }));
        return cmd;
    }

    private static async Task WaitForCancel(CancellationToken cancel)
    {
        try { await Task.Delay(Timeout.Infinite, cancel); }
        catch (OperationCanceledException) { }
    }
}
