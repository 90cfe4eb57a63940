using System.Text;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;

namespace LatencySmtp.IntegrationTests.Interop;

/// <summary>
/// Real mail clients into our classic server, with the extensions they use when offered: swaks with
/// PIPELINING, Python smtplib with SMTPUTF8 and an 8-bit body, MailKit with CHUNKING (BDAT), and Postfix
/// smtp-source with parallel sessions. Each checks what landed in the Maildir, byte for byte where the
/// client's bytes can be known.
/// </summary>
public sealed class BaselineInteropTests
{
    private static readonly byte[] Multipart = File.ReadAllBytes(Peers.DataFile("multipart.eml"));

    [Fact]
    public async Task Swaks_pipeline_sends_its_commands_in_one_group_and_the_message_arrives_byte_for_byte()
    {
        await using var server = ClassicServer.Start();
        var (code, output) = Peers.Run("swaks", ["--pipeline", "--server", $"127.0.0.1:{server.Port}", "--helo", "client.lsm.test",
            "--from", "alice@example.org", "--to", "bob@example.net,carol@example.net", "--data", "@" + Peers.DataFile("multipart.eml")]);
        Assert.True(code == 0, output);
        // swaks prints the commands of a pipelined group first and then their replies.
        var lines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        int mail = lines.FindIndex(l => l.StartsWith(" -> MAIL FROM:<alice@example.org>"));
        int data = lines.FindIndex(l => l.StartsWith(" -> DATA"));
        Assert.True(mail >= 0 && data > mail, output);
        Assert.All(lines[mail..(data + 1)], l => Assert.StartsWith(" -> ", l));
        Assert.Contains("<-  354", output);
        Assert.Equal([.. Multipart, .. "\r\n"u8], File.ReadAllBytes(Assert.Single(server.WaitForMessages(1))));
    }

    [Fact]
    public async Task Python_smtplib_send_message_with_an_SMTPUTF8_address_and_an_8bit_body_arrives_byte_for_byte()
    {
        await using var server = ClassicServer.Start();
        var expectedPath = Path.Combine(Path.GetTempPath(), $"lsm-smtputf8-{Guid.NewGuid():N}.eml");
        var script = $$"""
            import smtplib, sys, io, copy, email.generator
            from email.message import EmailMessage
            msg = EmailMessage()
            msg['From'] = 'José <josé@exämple.org>'
            msg['To'] = 'Zoë <zoë@example.net>'
            msg['Subject'] = 'Grüße aus Köln'
            msg.set_content('Grüße, ça va? 8-bit body.\n.a line that starts with a dot\nlast line\n', cte='8bit')
            msg.add_attachment(bytes(range(256)) * 4, maintype='application', subtype='octet-stream', filename='bin.dat')
            msg.set_boundary('lsm-boundary-1')
            with smtplib.SMTP('127.0.0.1', {{server.Port}}, local_hostname='client.lsm.test', timeout=20) as s:
                s.ehlo()
                assert s.has_extn('smtputf8') and s.has_extn('8bitmime'), s.esmtp_features
                s.set_debuglevel(1)
                refused = s.send_message(msg)
                assert not refused, refused
            # The bytes send_message puts in DATA (Lib/smtplib.py: BytesGenerator with utf8=True, CRLF).
            out = io.BytesIO()
            email.generator.BytesGenerator(out, policy=msg.policy.clone(utf8=True)).flatten(copy.copy(msg), linesep='\r\n')
            open(sys.argv[1], 'wb').write(out.getvalue())
            """;
        try
        {
            var (code, output) = Peers.Run("python3", ["-c", script, expectedPath]);
            Assert.True(code == 0, output);
            Assert.Contains("SMTPUTF8", output);            // the MAIL command carried it (debug transcript)
            var stored = File.ReadAllBytes(Assert.Single(server.WaitForMessages(1)));
            Assert.Equal(File.ReadAllBytes(expectedPath), stored);
            var text = Encoding.UTF8.GetString(stored);
            Assert.Contains("From: José <josé@exämple.org>", text);
            Assert.Contains("Grüße, ça va? 8-bit body.\r\n.a line that starts with a dot\r\n", text);
        }
        finally { File.Delete(expectedPath); }
    }

    /// <summary>MailKit sends BDAT only when told to prefer it (or for BINARYMIME); DATA otherwise.</summary>
    private sealed class ChunkingSmtpClient(IProtocolLogger logger) : SmtpClient(logger)
    {
        protected override bool PreferSendAsBinaryData => true;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task MailKit_SmtpClient_pipelines_with_DATA_or_BDAT_and_the_message_arrives_byte_for_byte(bool bdat)
    {
        await using var server = ClassicServer.Start();
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress("Alice", "alice@example.org"));
        message.To.Add(new MailboxAddress("Bob", "bob@example.net"));
        message.Bcc.Add(new MailboxAddress("Hidden", "hidden@example.net"));
        message.Subject = "MailKit into LatencySmtp";
        var body = new BodyBuilder { TextBody = "Hello from MailKit.\n.A line that starts with a dot\nGrüße\n" };
        body.Attachments.Add("payload.bin", Enumerable.Range(0, 4096).Select(i => (byte)i).ToArray());
        message.Body = body.ToMessageBody();

        var transcript = new MemoryStream();
        var logger = new ProtocolLogger(transcript, leaveOpen: true);
        using (var client = bdat ? new ChunkingSmtpClient(logger) : new SmtpClient(logger))
        {
            client.LocalDomain = "client.lsm.test";
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await client.ConnectAsync("127.0.0.1", server.Port, SecureSocketOptions.None, limit.Token);
            var wanted = SmtpCapabilities.Pipelining | SmtpCapabilities.Chunking | SmtpCapabilities.EightBitMime
                         | SmtpCapabilities.Size | SmtpCapabilities.EnhancedStatusCodes | SmtpCapabilities.UTF8;
            Assert.Equal(wanted, client.Capabilities & wanted);
            await client.SendAsync(message, limit.Token);
            await client.DisconnectAsync(true, limit.Token);
        }
        var log = Encoding.UTF8.GetString(transcript.ToArray());
        Assert.Equal(bdat, log.Contains("C: BDAT"));
        Assert.Equal(!bdat, log.Contains("C: DATA"));
        Assert.Contains("RCPT TO:<hidden@example.net>", log);

        // What MailKit writes for BDAT: the prepared message, CRLF line ends, Bcc hidden (SmtpClient.Send).
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        format.HiddenHeaders.Add(HeaderId.Bcc);
        format.HiddenHeaders.Add(HeaderId.ResentBcc);
        format.HiddenHeaders.Add(HeaderId.ContentLength);
        using var expected = new MemoryStream();
        message.WriteTo(format, expected);
        var stored = File.ReadAllBytes(Assert.Single(server.WaitForMessages(1)));
        Assert.Equal(expected.ToArray(), stored);
        Assert.DoesNotContain("hidden@example.net", Encoding.UTF8.GetString(stored));
    }

    [Fact]
    public async Task Postfix_smtp_source_with_parallel_sessions_delivers_every_message()
    {
        const int sessions = 4, messages = 20;
        await using var server = ClassicServer.Start();
        var (code, output) = Peers.Run("smtp-source", ["-s", $"{sessions}", "-m", $"{messages}", "-l", "2048", "-M", "client.lsm.test",
            "-f", "alice@example.org", "-t", "bob@example.net", "-S", "smtp-source interop", $"127.0.0.1:{server.Port}"], timeoutSeconds: 60);
        Assert.True(code == 0, output);
        var files = server.WaitForMessages(messages);
        Assert.Equal(messages, files.Count);
        Assert.Equal(messages, server.Server.Delivered);
        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            Assert.Contains("Subject: smtp-source interop\r\n", text);
            Assert.EndsWith("\r\n", text);
            Assert.InRange(text.Length, 2048, 4096);
        }
    }
}
