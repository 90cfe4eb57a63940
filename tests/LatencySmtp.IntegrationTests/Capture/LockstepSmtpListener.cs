using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LatencySmtp.IntegrationTests.Capture;

/// <summary>
/// A tiny lock-step SMTP listener on 127.0.0.1 for capture tests: 220, EHLO -> 250-multi-line,
/// MAIL/RCPT -> 250, DATA -> 354 ... end of data -> 250, QUIT -> 221. One reply per read line,
/// written as one send, so every reply is one flight. Serves connections until disposed.
/// </summary>
internal sealed class LockstepSmtpListener : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _acceptLoop;

    public LockstepSmtpListener()
    {
        _listener.Start();
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int MessagesAccepted;

    private async Task AcceptLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_cts.Token); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { return; }
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        client.NoDelay = true;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_cts.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        var stream = client.GetStream();
        var reader = new LineReader(stream);
        async Task Reply(string text) => await stream.WriteAsync(Encoding.ASCII.GetBytes(text), timeout.Token);
        try
        {
            await Reply("220 capture.test ESMTP lockstep\r\n");
            while (true)
            {
                var line = await reader.ReadLineAsync(timeout.Token);
                if (line is null) return;
                var verb = line.Split(' ', 2)[0].ToUpperInvariant();
                switch (verb)
                {
                    case "EHLO": await Reply("250-capture.test\r\n250-8BITMIME\r\n250 HELP\r\n"); break;
                    case "HELO": await Reply("250 capture.test\r\n"); break;
                    case "MAIL" or "RCPT" or "RSET" or "NOOP": await Reply("250 2.0.0 Ok\r\n"); break;
                    case "DATA":
                        await Reply("354 End data with <CR><LF>.<CR><LF>\r\n");
                        while (true)
                        {
                            var body = await reader.ReadLineAsync(timeout.Token);
                            if (body is null) return;
                            if (body == ".") break;
                        }
                        Interlocked.Increment(ref MessagesAccepted);
                        await Reply("250 2.0.0 Ok: queued as CAPTURE1\r\n");
                        break;
                    case "QUIT": await Reply("221 2.0.0 Bye\r\n"); return;
                    default: await Reply("500 5.5.2 unrecognised\r\n"); break;
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
        {
        }
    }

    public void Dispose()
    {
        _cts.Cancel();
        _listener.Stop();
        try { _acceptLoop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _cts.Dispose();
    }

    /// <summary>Reads CRLF-terminated lines, bounded to 4096 octets each.</summary>
    private sealed class LineReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[8192];
        private int _start, _end;

        public async Task<string?> ReadLineAsync(CancellationToken token)
        {
            while (true)
            {
                var span = _buffer.AsSpan(_start, _end - _start);
                var lf = span.IndexOf((byte)'\n');
                if (lf >= 0)
                {
                    var line = Encoding.ASCII.GetString(span[..lf]).TrimEnd('\r');
                    _start += lf + 1;
                    return line;
                }
                if (_end - _start > 4096) throw new IOException("line too long");
                if (_start > 0)
                {
                    Array.Copy(_buffer, _start, _buffer, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                var read = await stream.ReadAsync(_buffer.AsMemory(_end), token);
                if (read == 0) return null;
                _end += read;
            }
        }
    }
}
