using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LatencySmtp.Smtp;
using LatencySmtp.Transport.Kernel;
using SmtpServer;
using SmtpServer.ComponentModel;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace LatencySmtp.IntegrationTests.Interop;

/// <summary>Our classic and pipelined clients into other servers: Postfix smtp-sink and the SmtpServer (NuGet) library.</summary>
public sealed class OurClientInteropTests
{
    private static readonly byte[] Message =
        "From: <alice@example.org>\r\nTo: <bob@example.net>\r\nSubject: interop\r\n\r\nHello.\r\n.A line that starts with a dot\r\nBye.\r\n"u8.ToArray();

    private static ClientIdentity Identity => new("client.lsm.test", "LatencySmtp/test", null);
    private static MailRequest Request => new("alice@example.org", ["bob@example.net", "carol@example.net"], Message);

    [Theory]
    [InlineData(ClientMode.Classic)]
    [InlineData(ClientMode.Pipelined)]
    public async Task Into_Postfix_smtp_sink_the_replies_and_the_dumped_transaction_are_right(ClientMode mode)
    {
        var dir = Directory.CreateTempSubdirectory("lsm-sink-").FullName;
        var port = FreePort();
        using var sink = Process.Start(new ProcessStartInfo("smtp-sink")
        {
            ArgumentList = { "-u", "root", "-d", Path.Combine(dir, "%M."), $"127.0.0.1:{port}", "10" },
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        })!;
        try
        {
            await WaitListeningAsync(port, sink);
            var session = new ClientSession(Identity, Request, mode);
            var result = await KernelSmtpClient.RunAsync(new IPEndPoint(IPAddress.Loopback, port), session, timeout: TimeSpan.FromSeconds(10));
            Assert.True(result.Accepted, result.Error);
            Assert.Equal("smtp-sink ESMTP", result.ServerIdentity);
            Assert.Equal(250, result.FinalReply?.Code);
            Assert.True(session.Extensions.ContainsKey("PIPELINING"));
            Assert.False(session.Extensions.ContainsKey("SIZE"));      // so MAIL carries no SIZE (RFC 1870 §3)
            var commands = session.Transcript.Select(t => t.Command).ToList();
            Assert.Equal(["(greeting)", "EHLO client.lsm.test", "MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.net>",
                "RCPT TO:<carol@example.net>", "DATA", "(end of data)", "QUIT"], commands);
            Assert.All(session.Transcript.Skip(1), t => Assert.True(t.Reply.Code is 250 or 354 or 221, t.ToString()));

            string dump = "";
            for (int i = 0; i < 100 && dump.Length == 0; i++)
            {
                var files = Directory.GetFiles(dir);
                if (files.Length == 1) dump = File.ReadAllText(files[0]);
                else await Task.Delay(20);
            }
            // smtp-sink writes the envelope as X- headers, a Received header, then the message undotted with LF ends.
            Assert.Contains("X-Helo-Args: client.lsm.test\n", dump);
            Assert.Contains("X-Mail-Args: <alice@example.org>\n", dump);
            Assert.Contains("X-Rcpt-Args: <bob@example.net>\nX-Rcpt-Args: <carol@example.net>\n", dump);
            Assert.EndsWith(Encoding.ASCII.GetString(Message).Replace("\r\n", "\n") + "\n", dump);
        }
        finally
        {
            if (!sink.HasExited) sink.Kill();
            sink.WaitForExit(5000);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(ClientMode.Classic)]
    [InlineData(ClientMode.Pipelined)]
    public async Task Into_an_SmtpServer_library_host_the_envelope_and_message_arrive(ClientMode mode)
    {
        var port = FreePort();
        var store = new RecordingStore();
        var options = new SmtpServerOptionsBuilder().ServerName("smtpserver.lsm.test").MaxMessageSize(1_000_000)
            .Endpoint(b => b.Endpoint(new IPEndPoint(IPAddress.Loopback, port))).Build();
        var services = new ServiceProvider();
        services.Add(store);
        var host = new SmtpServer.SmtpServer(options, services);
        using var stop = new CancellationTokenSource();
        var running = host.StartAsync(stop.Token);
        try
        {
            await WaitListeningAsync(port, null);
            var session = new ClientSession(Identity, Request, mode);
            var result = await KernelSmtpClient.RunAsync(new IPEndPoint(IPAddress.Loopback, port), session, timeout: TimeSpan.FromSeconds(10));
            Assert.True(result.Accepted, result.Error);
            Assert.Contains("smtpserver.lsm.test", result.ServerIdentity);
            Assert.Equal(250, result.FinalReply?.Code);
            Assert.True(session.Extensions.ContainsKey("SIZE"));
            Assert.Contains(session.Transcript, t => t.Command == $"MAIL FROM:<alice@example.org> SIZE={Message.Length}");
            var (from, to, bytes) = Assert.Single(store.Received);
            Assert.Equal("alice@example.org", from);
            Assert.Equal(["bob@example.net", "carol@example.net"], to);
            // The library hands over the DATA content with the dot-stuffing undone, and counts the message's last
            // CRLF as part of the "CRLF . CRLF" terminator: the stored bytes lack it.
            Assert.Equal(Message[..^2], bytes);
        }
        finally
        {
            stop.Cancel();
            host.Shutdown();
            await Task.WhenAny(running, Task.Delay(5000));
        }
    }

    private sealed class RecordingStore : MessageStore
    {
        public List<(string From, string[] To, byte[] Message)> Received { get; } = [];

        public override Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            lock (Received)
                Received.Add(($"{transaction.From.User}@{transaction.From.Host}", transaction.To.Select(m => $"{m.User}@{m.Host}").ToArray(), buffer.ToArray()));
            return Task.FromResult(SmtpResponse.Ok);
        }
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>Polls until something accepts on the port (bounded); a peer process that died is an error.</summary>
    private static async Task WaitListeningAsync(int port, Process? peer)
    {
        for (int i = 0; i < 100; i++)
        {
            if (peer is { HasExited: true }) throw new InvalidOperationException($"peer exited: {peer.StandardError.ReadToEnd()}");
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                return;
            }
            catch (SocketException) { await Task.Delay(50); }
        }
        throw new TimeoutException($"nothing listens on 127.0.0.1:{port}");
    }
}
