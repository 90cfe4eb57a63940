using System.CommandLine;
using LatencySmtp.Smtp;
using LatencySmtp.Transport;
using LatencySmtp.Transport.Variants;

namespace LatencySmtp.Cli.Commands;

internal static class SendCommand
{
    public static Command Create()
    {
        var variant = new Option<string>("--variant") { Description = "classic | pipelined | early-pipe | tfo | ttcp | ttcp-cookie (those implemented)", DefaultValueFactory = _ => "classic" };
        var server = new Option<string>("--server") { Description = "IP:PORT of the server", Required = true };
        var from = new Option<string>("--from") { Description = "reverse-path (MAIL FROM)", Required = true };
        var to = new Option<string[]>("--to") { Description = "recipient (repeatable)", Required = true, AllowMultipleArgumentsPerToken = true };
        var message = new Option<string>("--message") { Description = "RFC 5322 message file (.eml)", Required = true };
        var helo = new Option<string>("--helo") { Description = "client host name", DefaultValueFactory = _ => Environment.MachineName };
        var netns = new Option<string?>("--netns") { Description = "network namespace to send from (default: the current one)" };
        var timeout = new Option<double>("--timeout") { Description = "seconds", DefaultValueFactory = _ => 30 };
        var state = new Option<string>("--ttcp-state")
        {
            Description = "ttcp/ttcp-cookie: file keeping the T/TCP host state (CCgen, TAO entry, cookie) across sends, as a kernel would; 'none' for a fresh host (first contact)",
            DefaultValueFactory = _ => Transport.Raw.TtcpHostState.DefaultPath,
        };
        var cmd = new Command("send", "Send one message with one variant and print how long it took") { variant, server, from, to, message, helo, netns, timeout, state };
        cmd.SetAction((pr, cancel) => Endpoints.Guard(async () =>
        {
            var v = SmtpVariants.Parse(pr.GetValue(variant)!);
            var ep = Endpoints.Parse(pr.GetValue(server)!, "--server");
            var ns = pr.GetValue(netns);
            var file = pr.GetValue(message)!;
            if (Directory.Exists(file)) throw new IOException($"--message {file} is a directory, not a message file");
            // A message file may have Unix line ends; on the wire it has CRLF (RFC 5322 §2.3), whatever the variant.
            var bytes = MessageText.WithCrlfLineEnds(await File.ReadAllBytesAsync(file, cancel));
            var request = new MailRequest(pr.GetValue(from)!, pr.GetValue(to)!, bytes);
            var identity = new ClientIdentity(pr.GetValue(helo)!, $"LatencySmtp/{typeof(SendCommand).Assembly.GetName().Version?.ToString(3)}", Guid.NewGuid().ToString("N")[..16]);
            var seconds = pr.GetValue(timeout);
            if (!(seconds > 0 && seconds <= 24 * 3600)) throw new ArgumentException($"--timeout {seconds}: give seconds above 0 (at most a day)");
            var limit = TimeSpan.FromSeconds(seconds);
            if (v.IsRaw()) Endpoints.RequireRoot($"send --variant {v.Name()}");
            if (v == SmtpVariant.Tfo && LatencySmtp.Transport.Kernel.SocketOptions.FastOpenWarning(1, ns) is { } tfoWarning)
                Console.Error.WriteLine($"warning: {tfoWarning}");
            var stateFile = pr.GetValue(state) is { } f && f != "none" ? f : null;
            // ttcp: a one-shot process cannot stay for the whole TIME-WAIT (8 RTO, at least 8 s). After printing, it
            // stays until the server's first retransmission of its FIN would have come (2 RTO after our last ACK), at
            // most 3 s, so one lost final ACK is ACKed again instead of leaving the server retransmitting for 2 min.
            using var client = VariantFactory.CreateClient(v, new ClientSetup(ep, ns, StateFile: v.IsRaw() ? stateFile : null,
                TimeWaitLinger: v.IsRaw() ? TimeSpan.FromSeconds(3) : null));
            var result = await client.SendAsync(identity, request, limit, cancel);
            Console.WriteLine($"server:   {result.ServerIdentity ?? "(none)"}");
            Console.WriteLine($"outcome:  {result.OutcomeLabel}{(result.FinalReply is { } r ? $" ({r.Code} {string.Join(" / ", r.Lines)})" : "")}");
            foreach (var (recipient, refusal) in result.RefusedRecipients ?? [])
                Console.WriteLine($"refused:  {recipient} ({refusal.Code} {string.Join(" / ", refusal.Lines)})");
            if (result.Accepted) Console.WriteLine($"accepted: {result.AcceptMs:F2} ms after the connection started");
            if (result.Error is { } err) Console.WriteLine($"error:    {err}");
            return result.Accepted ? 0 : 2;
        }));
        return cmd;
    }
}
