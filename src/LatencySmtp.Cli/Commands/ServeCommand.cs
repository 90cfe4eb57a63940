using System.CommandLine;
using LatencySmtp.Smtp;
using LatencySmtp.Transport;
using LatencySmtp.Transport.Delivery;
using LatencySmtp.Transport.Kernel;
using LatencySmtp.Transport.Linux;
using LatencySmtp.Transport.Raw;

namespace LatencySmtp.Cli.Commands;

internal static class ServeCommand
{
    public static Command Create()
    {
        var variant = new Option<string>("--variant") { Description = "classic | ttcp", DefaultValueFactory = _ => "classic" };
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
            switch (v)
            {
                case SmtpVariant.Classic:
                    await using (var server = new KernelSmtpServer(new KernelServerOptions { Listen = ep, Smtp = smtp, Namespace = ns }, box, Console.Error))
                    {
                        Console.WriteLine($"classic SMTP on {server.LocalEndPoint}, Maildir {box.Root}; Ctrl-C stops");
                        await WaitForCancel(cancel);
                        Console.WriteLine($"delivered {server.Delivered} message(s)");
                    }
                    return 0;
                case SmtpVariant.Ttcp:
                    Endpoints.RequireRoot("serve --variant ttcp");
                    var iface = NetNamespace.Run(ns, () => Routes.InterfaceOf(ep.Address));
                    using (KernelSilencer.Install(ns, iface, $"ip daddr {ep.Address} tcp dport {ep.Port}"))
                    using (var server = new RawTtcpServer(RawLink.Open(ns, iface, Routes.ToUInt32(ep.Address)), (ushort)ep.Port, box, smtp, log: Console.Error))
                    {
                        Console.WriteLine($"T/TCP-style SMTP (user-space TCP) on {ep} via {iface}, Maildir {box.Root}; Ctrl-C stops");
                        await WaitForCancel(cancel);
                        Console.WriteLine($"delivered {server.Delivered} message(s)");
                    }
                    return 0;
                default:
                    throw new NotSupportedException($"serve --variant {v.Name()} is not implemented yet");
            }
        }));
        return cmd;
    }

    private static async Task WaitForCancel(CancellationToken cancel)
    {
        try { await Task.Delay(Timeout.Infinite, cancel); }
        catch (OperationCanceledException) { }
    }
}
