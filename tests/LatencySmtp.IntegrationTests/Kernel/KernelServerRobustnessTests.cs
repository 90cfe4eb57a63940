using System.Diagnostics;
using System.Net;
using System.Text;
using LatencySmtp.IntegrationTests.Interop;
using LatencySmtp.Smtp;
using LatencySmtp.Transport.Kernel;

namespace LatencySmtp.IntegrationTests.Kernel;

/// <summary>The kernel-TCP server against hostile and clumsy clients over loopback: early talkers, endless lines,
/// floods of pipelined commands, the session cap and both timeouts, configured limits.</summary>
public sealed class KernelServerRobustnessTests
{
    private static ClientIdentity Identity => new("client.lsm.test", "LatencySmtp/test", null);
    private static readonly byte[] Body = "Subject: robust\r\n\r\nhello\r\n"u8.ToArray();

    [Fact]
    public async Task A_client_that_talks_before_the_greeting_gets_554_and_is_closed()
    {
        await using var server = ClassicServer.Start(configure: o => o with { GreetPause = TimeSpan.FromMilliseconds(400) });
        using var c = await RawSmtpConnection.OpenAsync(server.Endpoint);
        await c.SendAsync("EHLO early.lsm.test\r\nMAIL FROM:<a@example.org>\r\n");
        var reply = await c.ReadReplyAsync();
        Assert.Equal(554, reply?.Code);
        Assert.Contains("5.5.0", reply!.Value.Text);
        Assert.True(await c.ClosedAsync());
        Assert.Equal(1, server.Server.EarlyTalkers);
    }

    [Fact]
    public async Task A_greetingless_request_on_the_classic_port_is_refused_and_delivers_nothing()
    {
        await using var server = ClassicServer.Start(configure: o => o with { GreetPause = TimeSpan.FromMilliseconds(400) });
        var result = await KernelSmtpClient.RunAsync(server.Endpoint,
            new ClientSession(Identity, new MailRequest("a@example.org", ["b@example.net"], Body), ClientMode.Greetingless), timeout: TimeSpan.FromSeconds(10));
        Assert.Equal(ClientOutcome.Rejected, result.Outcome);
        Assert.Equal(554, result.FinalReply?.Code);
        Assert.Empty(server.Maildir.NewMessages());
    }

    [Fact]
    public async Task A_patient_client_is_greeted_after_the_greet_pause_and_its_mail_is_delivered()
    {
        var pause = TimeSpan.FromMilliseconds(300);
        await using var server = ClassicServer.Start(configure: o => o with { GreetPause = pause });
        var result = await KernelSmtpClient.RunAsync(server.Endpoint,
            new ClientSession(Identity, new MailRequest("a@example.org", ["b@example.net"], Body), ClientMode.Classic), timeout: TimeSpan.FromSeconds(10));
        Assert.True(result.Accepted, result.Error);
        Assert.True(result.AcceptMs >= pause.TotalMilliseconds - 5, $"accepted after {result.AcceptMs} ms");
        Assert.Equal(Body, File.ReadAllBytes(Assert.Single(server.WaitForMessages(1))));
        Assert.Equal(0, server.Server.EarlyTalkers);
    }

    [Fact]
    public async Task Without_a_greet_pause_a_well_behaved_client_waits_no_longer()
    {
        await using var server = ClassicServer.Start();
        using var c = await RawSmtpConnection.OpenAsync(server.Endpoint);
        var clock = Stopwatch.StartNew();
        Assert.Equal(220, (await c.ReadReplyAsync())?.Code);
        Assert.InRange(clock.Elapsed.TotalMilliseconds, 0, 250);
    }

    [Fact]
    public async Task An_endless_line_is_answered_before_it_ends_and_the_session_goes_on()
    {
        await using var server = ClassicServer.Start();
        using var c = await RawSmtpConnection.OpenAsync(server.Endpoint);
        Assert.Equal(220, (await c.ReadReplyAsync())?.Code);
        var chunk = Encoding.ASCII.GetBytes(new string('A', 64 * 1024));
        await c.SendAsync(chunk);
        // The 500 comes while the line is still open: the server did not wait for (or keep) its end.
        var early = await c.ReadReplyAsync();
        Assert.Equal(500, early?.Code);
        Assert.Contains("5.5.2", early!.Value.Text);
        for (int i = 0; i < 256; i++) await c.SendAsync(chunk);   // 16 MiB more of the same line
        await c.SendAsync("\r\nEHLO client.lsm.test\r\nNOOP\r\nQUIT\r\n");
        Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
        Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
        Assert.Equal(221, (await c.ReadReplyAsync())?.Code);
        Assert.True(await c.ClosedAsync());
    }

    [Fact]
    public async Task An_endless_line_inside_DATA_refuses_that_message_only()
    {
        await using var server = ClassicServer.Start();
        using var c = await RawSmtpConnection.OpenAsync(server.Endpoint);
        Assert.Equal(220, (await c.ReadReplyAsync())?.Code);
        await c.SendAsync("EHLO client.lsm.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
        for (int i = 0; i < 4; i++) Assert.Equal(i == 3 ? 354 : 250, (await c.ReadReplyAsync())?.Code);
        var chunk = Encoding.ASCII.GetBytes(new string('B', 64 * 1024));
        for (int i = 0; i < 64; i++) await c.SendAsync(chunk);   // 4 MiB in one text line
        await c.SendAsync("\r\n.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
        Assert.Equal(500, (await c.ReadReplyAsync())?.Code);          // §4.5.3.1.10 at the end of data
        Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
        Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
        Assert.Equal(354, (await c.ReadReplyAsync())?.Code);
        await c.SendAsync(Body);
        await c.SendAsync(".\r\nQUIT\r\n");
        Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
        Assert.Equal(221, (await c.ReadReplyAsync())?.Code);
        Assert.Equal(Body, File.ReadAllBytes(Assert.Single(server.WaitForMessages(1))));
    }

    [Theory]
    [InlineData("\n.\r\n")]      // LF "." CRLF (the 2023 "SMTP smuggling" ending)
    [InlineData("\r\n.\n")]      // CRLF "." LF
    [InlineData("\n.\n")]
    [InlineData("\r.\r\n")]
    public async Task A_smuggled_second_transaction_inside_DATA_is_refused_and_nothing_is_delivered(string fakeEnd)
    {
        await using var server = ClassicServer.Start();
        using var c = await RawSmtpConnection.OpenAsync(server.Endpoint);
        Assert.Equal(220, (await c.ReadReplyAsync())?.Code);
        await c.SendAsync("EHLO client.lsm.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
        for (int i = 0; i < 4; i++) Assert.NotNull(await c.ReadReplyAsync());
        await c.SendAsync($"Subject: outer\r\n\r\nouter{fakeEnd}MAIL FROM:<admin@example.org>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\n" +
                          "Subject: smuggled\r\n\r\nsmuggled\r\n.\r\nNOOP\r\n");
        // One end of data only (the real CRLF "." CRLF): one refusal, then the NOOP is a command again.
        var refusal = await c.ReadReplyAsync();
        Assert.Equal(550, refusal?.Code);
        Assert.Contains("5.6.2", refusal!.Value.Text);
        Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
        await c.SendAsync("QUIT\r\n");
        Assert.Equal(221, (await c.ReadReplyAsync())?.Code);
        Assert.Empty(server.Maildir.NewMessages());
    }

    [Fact]
    public async Task Thousands_of_pipelined_commands_in_one_write_get_every_reply_in_order()
    {
        const int noops = 5000, mails = 100;
        await using var server = ClassicServer.Start();
        using var c = await RawSmtpConnection.OpenAsync(server.Endpoint);
        Assert.Equal(220, (await c.ReadReplyAsync())?.Code);
        var script = new StringBuilder("EHLO client.lsm.test\r\n");
        for (int i = 0; i < noops; i++) script.Append("NOOP\r\n");
        for (int i = 0; i < mails; i++)
            script.Append($"MAIL FROM:<a@example.org>\r\nRCPT TO:<b{i}@example.net>\r\nBDAT {Body.Length} LAST\r\n").Append(Encoding.ASCII.GetString(Body));
        script.Append("QUIT\r\n");
        // One write of ~40 KiB; replies are read at the same time so neither side's window can stall the other.
        var send = c.SendAsync(script.ToString());
        Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
        for (int i = 0; i < noops; i++) Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
        for (int i = 0; i < mails; i++)
        {
            Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
            Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
            var accepted = await c.ReadReplyAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(250, accepted?.Code);
            Assert.Contains("queued", accepted!.Value.Text);
        }
        Assert.Equal(221, (await c.ReadReplyAsync())?.Code);
        await send;
        Assert.Equal(mails, server.WaitForMessages(mails).Count);
        Assert.Equal(mails, server.Server.Delivered);
    }

    [Fact]
    public async Task The_session_cap_refuses_with_421_and_frees_its_slot_when_a_session_ends()
    {
        await using var server = ClassicServer.Start(configure: o => o with { MaxSessions = 2 });
        using var a = await RawSmtpConnection.OpenAsync(server.Endpoint);
        using var b = await RawSmtpConnection.OpenAsync(server.Endpoint);
        Assert.Equal(220, (await a.ReadReplyAsync())?.Code);
        Assert.Equal(220, (await b.ReadReplyAsync())?.Code);
        using (var third = await RawSmtpConnection.OpenAsync(server.Endpoint))
        {
            var refused = await third.ReadReplyAsync();
            Assert.Equal(421, refused?.Code);
            Assert.Contains("4.3.2", refused!.Value.Text);
            Assert.True(await third.ClosedAsync());
        }
        await a.SendAsync("QUIT\r\n");
        Assert.Equal(221, (await a.ReadReplyAsync())?.Code);
        Assert.True(await a.ClosedAsync());
        // The slot is given back once the session's task ends: poll (bounded).
        for (int i = 0; i < 100 && server.Server.ActiveSessions > 1; i++) await Task.Delay(20);
        using var fourth = await RawSmtpConnection.OpenAsync(server.Endpoint);
        Assert.Equal(220, (await fourth.ReadReplyAsync())?.Code);
        Assert.Equal(1, server.Server.Refused);
    }

    [Fact]
    public async Task One_address_cannot_take_every_slot()
    {
        await using var server = ClassicServer.Start(configure: o => o with { MaxSessions = 10, MaxSessionsPerClient = 2 });
        using var a = await RawSmtpConnection.OpenAsync(server.Endpoint);
        using var b = await RawSmtpConnection.OpenAsync(server.Endpoint);
        Assert.Equal(220, (await a.ReadReplyAsync())?.Code);
        Assert.Equal(220, (await b.ReadReplyAsync())?.Code);
        using var third = await RawSmtpConnection.OpenAsync(server.Endpoint);
        var refused = await third.ReadReplyAsync();
        Assert.Equal(421, refused?.Code);
        Assert.Contains("from your address", refused!.Value.Text);
        Assert.True(server.Server.ActiveSessions <= 2);
    }

    [Fact]
    public async Task A_client_that_never_reads_is_dropped_after_the_idle_timeout()
    {
        await using var server = ClassicServer.Start(configure: o => o with { IdleTimeout = TimeSpan.FromMilliseconds(500) });
        using var client = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        client.ReceiveBufferSize = 4096;
        await client.ConnectAsync(server.Endpoint);
        // Pipeline NOOPs and never read: the server's replies fill both socket buffers and its send stalls.
        var noops = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("NOOP\r\n", 400_000)));
        var clock = Stopwatch.StartNew();
        var sending = client.SendAsync(noops);          // never completes while nobody reads; not awaited
        for (int i = 0; i < 200 && (server.Server.ActiveSessions > 0 || clock.Elapsed < TimeSpan.FromMilliseconds(100)); i++)
            await Task.Delay(50);
        Assert.Equal(0, server.Server.ActiveSessions);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.4, 10);
        client.Dispose();
        try { await sending; } catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException) { }
    }

    [Fact]
    public async Task An_idle_client_gets_421_and_a_cut_DATA_delivers_nothing()
    {
        await using var server = ClassicServer.Start(configure: o => o with { IdleTimeout = TimeSpan.FromMilliseconds(300) });
        using var c = await RawSmtpConnection.OpenAsync(server.Endpoint);
        Assert.Equal(220, (await c.ReadReplyAsync())?.Code);
        await c.SendAsync("EHLO client.lsm.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: half\r\n\r\nhalf a mes");
        for (int i = 0; i < 4; i++) Assert.NotNull(await c.ReadReplyAsync());
        var clock = Stopwatch.StartNew();
        var idle = await c.ReadReplyAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(421, idle?.Code);
        Assert.Contains("Idle", idle!.Value.Text);
        Assert.InRange(clock.Elapsed.TotalMilliseconds, 200, 3000);
        Assert.True(await c.ClosedAsync());
        Assert.Empty(server.Maildir.NewMessages());
    }

    [Fact]
    public async Task A_slow_drip_client_is_ended_by_the_session_time_limit()
    {
        await using var server = ClassicServer.Start(configure: o => o with { IdleTimeout = TimeSpan.FromSeconds(30), SessionTimeout = TimeSpan.FromMilliseconds(800) });
        using var c = await RawSmtpConnection.OpenAsync(server.Endpoint);
        Assert.Equal(220, (await c.ReadReplyAsync())?.Code);
        var clock = Stopwatch.StartNew();
        (int Code, string Text)? reply = null;
        for (int i = 0; i < 50 && clock.Elapsed < TimeSpan.FromSeconds(5); i++)
        {
            await c.SendAsync("NOOP\r\n");               // never idle for long
            reply = await c.ReadReplyAsync();
            if (reply?.Code != 250) break;
            await Task.Delay(100);
        }
        Assert.Equal(421, reply?.Code);
        Assert.Contains("time limit", reply!.Value.Text);
        Assert.InRange(clock.Elapsed.TotalMilliseconds, 500, 4000);
        Assert.True(await c.ClosedAsync());
    }

    [Fact]
    public async Task Configured_limits_give_the_RFC_5321_replies()
    {
        await using var server = ClassicServer.Start(configure: o => o with
        {
            Smtp = o.Smtp with { Limits = new SmtpLimits { MaxRecipients = 2, MaxMessageOctets = 200, MaxCommandLineOctets = 100 } },
        });
        using var c = await RawSmtpConnection.OpenAsync(server.Endpoint);
        Assert.Equal(220, (await c.ReadReplyAsync())?.Code);
        await c.SendAsync("EHLO client.lsm.test\r\n");
        var ehlo = await c.ReadReplyAsync();
        Assert.Contains("SIZE 200", ehlo!.Value.Text);
        await c.SendAsync("MAIL FROM:<a@example.org> SIZE=201\r\n");
        Assert.Equal(552, (await c.ReadReplyAsync())?.Code);        // RFC 1870 §6.1
        await c.SendAsync($"MAIL FROM:<{new string('a', 90)}@example.org>\r\n");
        Assert.Equal(500, (await c.ReadReplyAsync())?.Code);        // command line over 100 octets
        await c.SendAsync("MAIL FROM:<a@example.org>\r\nRCPT TO:<b1@example.net>\r\nRCPT TO:<b2@example.net>\r\nRCPT TO:<b3@example.net>\r\n");
        Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
        Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
        Assert.Equal(250, (await c.ReadReplyAsync())?.Code);
        Assert.Equal(452, (await c.ReadReplyAsync())?.Code);        // §4.5.3.1.10
        await c.SendAsync($"BDAT 300 LAST\r\n{new string('x', 298)}\r\nQUIT\r\n");
        Assert.Equal(552, (await c.ReadReplyAsync())?.Code);
        Assert.Equal(221, (await c.ReadReplyAsync())?.Code);
        Assert.Empty(server.Maildir.NewMessages());
    }
}
