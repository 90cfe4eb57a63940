namespace LatencySmtp.IntegrationTests.Interop;

/// <summary>Real mail software talks to the classic server; what it sent must land byte for byte in the Maildir.</summary>
public sealed class ClassicInteropTests
{
    private static readonly byte[] Multipart = File.ReadAllBytes(Peers.DataFile("multipart.eml"));

    [Fact]
    public async Task Swaks_default_message_is_accepted_and_stored()
    {
        await using var server = ClassicServer.Start();
        var (code, output) = Peers.Run("swaks", ["--server", $"127.0.0.1:{server.Port}", "--to", "b@example.net", "--from", "a@example.org", "--helo", "client.lsm.test"]);
        Assert.True(code == 0, output);
        Assert.Contains("<-  250 2.0.0", output);
        var files = server.WaitForMessages(1);
        var stored = File.ReadAllText(Assert.Single(files));
        Assert.Contains("Subject: test", stored);
        Assert.EndsWith("\r\n", stored);
    }

    [Fact]
    public async Task Swaks_multipart_with_attachment_arrives_byte_for_byte()
    {
        await using var server = ClassicServer.Start();
        var (code, output) = Peers.Run("swaks", ["--server", $"127.0.0.1:{server.Port}", "--to", "bob@example.net", "--from", "alice@example.org",
            "--data", "@" + Peers.DataFile("multipart.eml")]);
        Assert.True(code == 0, output);
        // swaks always ends DATA with "\r\n.\r\n", also after a file that ends in CRLF: the message it
        // sends is the file plus one empty line (seen on the wire), and that is what must be stored.
        Assert.Equal([.. Multipart, .. "\r\n"u8], File.ReadAllBytes(Assert.Single(server.WaitForMessages(1))));
    }

    [Fact]
    public async Task Python_smtplib_multipart_with_attachment_arrives_byte_for_byte()
    {
        await using var server = ClassicServer.Start();
        var script = $$"""
            import smtplib, sys
            data = open(sys.argv[1], 'rb').read()
            with smtplib.SMTP('127.0.0.1', {{server.Port}}, local_hostname='client.lsm.test', timeout=20) as s:
                s.ehlo()
                assert s.has_extn('pipelining') and s.has_extn('8bitmime'), s.esmtp_features
                refused = s.sendmail('alice@example.org', ['bob@example.net'], data)
                assert not refused, refused
            print('sent', len(data))
            """;
        var (code, output) = Peers.Run("python3", ["-c", script, Peers.DataFile("multipart.eml")]);
        Assert.True(code == 0, output);
        Assert.Equal(Multipart, File.ReadAllBytes(Assert.Single(server.WaitForMessages(1))));
    }

    [Fact]
    public async Task Python_smtplib_send_message_parses_back_to_the_same_mime_structure()
    {
        await using var server = ClassicServer.Start();
        var script = $$"""
            import smtplib, sys, email
            from email import policy
            msg = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=policy.SMTP)
            with smtplib.SMTP('127.0.0.1', {{server.Port}}, timeout=20) as s:
                s.send_message(msg)
            """;
        var (code, output) = Peers.Run("python3", ["-c", script, Peers.DataFile("multipart.eml")]);
        Assert.True(code == 0, output);
        var stored = File.ReadAllText(Assert.Single(server.WaitForMessages(1)));
        Assert.Contains("filename=\"payload.bin\"", stored);
        Assert.Contains("\r\n.A line that starts with a dot", stored);   // dot-stuffing undone
        Assert.DoesNotContain("\r\n..A line", stored);
    }
}
