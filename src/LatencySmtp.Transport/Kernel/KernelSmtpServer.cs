using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LatencySmtp.Smtp;
using LatencySmtp.Transport.Delivery;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Transport.Kernel;

public sealed record KernelServerOptions
{
    public required IPEndPoint Listen { get; init; }
    public ServerMode Mode { get; init; } = ServerMode.Classic;
    /// <summary>Host name, software and the RFC 5321 §4.5.3.1 limits (<see cref="ServerOptions.Limits"/>).</summary>
    public ServerOptions Smtp { get; init; } = new();
    /// <summary>Network namespace to create the listening socket in (null: the current one).</summary>
    public string? Namespace { get; init; }
    /// <summary>No input for this long: 421 and close. RFC 5321 §4.5.3.2.7: at least 5 minutes.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>A whole session may last this long, whatever it does (slow drip, a client that never reads): 421 and close.</summary>
    public TimeSpan SessionTimeout { get; init; } = TimeSpan.FromMinutes(30);
    /// <summary>Concurrent sessions; one more gets 421 4.3.2 and is closed (RFC 5321 §3.8).</summary>
    public int MaxSessions { get; init; } = 100;
    /// <summary>Concurrent sessions from one client address (as Postfix's smtpd_client_connection_count_limit):
    /// one host holding idle connections cannot take every slot.</summary>
    public int MaxSessionsPerClient { get; init; } = 20;
    public bool FastOpen { get; init; }
    /// <summary>
    /// Classic mode: a client that sends before the 220 greeting gets "554 5.5.0" and is closed (RFC 5321
    /// §3.1, §4.3.2: the session opens with the server's greeting and 554 is the refusal at connection
    /// establishment; as Exim's smtp_enforce_sync and Postfix postscreen's pregreet test do). Greeting-less
    /// requests have their own listener (<see cref="ServerMode.Greetingless"/>). False tolerates early talkers.
    /// </summary>
    public bool RejectEarlyTalkers { get; init; } = true;
    /// <summary>
    /// Classic mode: wait this long before greeting, to catch early talkers (sendmail's greet_pause). Zero
    /// (the default, no added latency) still refuses a client whose bytes are already there at accept.
    /// </summary>
    public TimeSpan GreetPause { get; init; } = TimeSpan.Zero;
}

/// <summary>
/// The SMTP server over kernel TCP: one <see cref="ServerSession"/> per connection, every accepted
/// message in the Maildir before the 250 is written.
/// </summary>
public sealed class KernelSmtpServer : IAsyncDisposable
{
    private readonly KernelServerOptions _options;
    private readonly Maildir _maildir;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _sessions;
    private long _delivered, _earlyTalkers, _refused;
    private readonly ExactlyOnceDelivery? _exactlyOnce;

    public KernelSmtpServer(KernelServerOptions options, Maildir maildir, TextWriter? log = null)
    {
        _options = options;
        _maildir = maildir;
        Log = log ?? TextWriter.Null;
        // Greeting-less requests carry a TXID: deliver each at most once (TransactionLedger).
        if (options.Mode == ServerMode.Greetingless) _exactlyOnce = ExactlyOnceDelivery.Beside(maildir);
        _listener = NetNamespace.Run(options.Namespace, () =>
        {
            var s = new Socket(options.Listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            SocketOptions.ReuseAddressOnly(s);
            SocketOptions.BindExclusive(s, options.Listen);
            if (options.FastOpen) SocketOptions.EnableFastOpenListener(s);
            s.Listen(128);
            return s;
        });
        LocalEndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public IPEndPoint LocalEndPoint { get; }

    public long Delivered => Interlocked.Read(ref _delivered) + (_exactlyOnce?.Delivered ?? 0);

    /// <summary>Greeting-less requests answered with an earlier 250 (TXID seen before).</summary>
    public long Duplicates => _exactlyOnce?.Duplicates ?? 0;

    /// <summary>Sessions open now.</summary>
    public int ActiveSessions => Volatile.Read(ref _sessions);

    /// <summary>Classic-mode clients refused with 554 for sending before the greeting.</summary>
    public long EarlyTalkers => Interlocked.Read(ref _earlyTalkers);

    /// <summary>Connections refused with 421 because <see cref="KernelServerOptions.MaxSessions"/> were open.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    private TextWriter Log { get; }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            client.NoDelay = true;
            var address = (client.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            if (Interlocked.Increment(ref _sessions) > _options.MaxSessions)
            {
                Interlocked.Decrement(ref _sessions);
                Interlocked.Increment(ref _refused);
                // RFC 5321 §3.8: a server that cannot serve now answers 421 and closes.
                _ = RefuseAsync(client, "too many sessions, try later");
                continue;
            }
            if (!TryAddClientSession(address))
            {
                Interlocked.Decrement(ref _sessions);
                Interlocked.Increment(ref _refused);
                _ = RefuseAsync(client, "too many sessions from your address, try later");
                continue;
            }
            _ = Task.Run(async () =>
            {
                try { await ServeAsync(client); }
                finally
                {
                    RemoveClientSession(address);
                    Interlocked.Decrement(ref _sessions);
                }
            });
        }
    }

    private readonly Dictionary<IPAddress, int> _perClient = [];

    private bool TryAddClientSession(IPAddress address)
    {
        lock (_perClient)
        {
            var n = _perClient.GetValueOrDefault(address);
            if (n >= _options.MaxSessionsPerClient) return false;
            _perClient[address] = n + 1;
            return true;
        }
    }

    private void RemoveClientSession(IPAddress address)
    {
        lock (_perClient)
        {
            if (_perClient.TryGetValue(address, out var n) && n > 1) _perClient[address] = n - 1;
            else _perClient.Remove(address);
        }
    }

    private async Task RefuseAsync(Socket client, string why)
    {
        using (client)
            await CloseWithAsync(client, SmtpReply.Single(421, $"4.3.2 {_options.Smtp.HostName} {why}"));
    }

    private async Task ServeAsync(Socket client)
    {
        var remote = client.RemoteEndPoint;
        var session = new ServerSession(_options.Smtp, _options.Mode);
        var buffer = new byte[16 * 1024];
        // Every await of the session (receive, send, greet pause) ends by SessionTimeout at the latest.
        using var life = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        life.CancelAfter(_options.SessionTimeout);
        try
        {
            using (client)
            {
                if (_options.Mode == ServerMode.Classic && _options.RejectEarlyTalkers && await TalksEarlyAsync(client, life.Token))
                {
                    Interlocked.Increment(ref _earlyTalkers);
                    await CloseWithAsync(client, SmtpReply.Single(554, $"5.5.0 {_options.Smtp.HostName} SMTP synchronization error: client sent before the greeting"));
                    return;
                }
                session.Start();
                await FlushAsync(client, session, life.Token);
                while (!session.IsClosed)
                {
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(life.Token);
                    idle.CancelAfter(_options.IdleTimeout);
                    int n;
                    try
                    {
                        n = await client.ReceiveAsync(buffer, SocketFlags.None, idle.Token);
                    }
                    catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                    {
                        // Whatever was cut (a DATA without its end) delivers nothing.
                        await CloseWithAsync(client, life.IsCancellationRequested
                            ? SmtpReply.Single(421, "4.4.2 Session time limit exceeded, closing")
                            : SmtpReply.Single(421, "4.4.2 Idle timeout, closing"));
                        return;
                    }
                    if (n == 0)
                    {
                        session.ReceiveEnd();
                        await FlushAsync(client, session, life.Token);
                        return;
                    }
                    session.Receive(buffer.AsSpan(0, n));
                    await FlushAsync(client, session, life.Token);
                }
                client.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            Log.WriteLine($"session {remote}: {e.Message}");
        }
    }

    /// <summary>Did the client send before the greeting? Bytes already there at accept, or within the greet pause.</summary>
    private async Task<bool> TalksEarlyAsync(Socket client, CancellationToken life)
    {
        if (client.Available > 0) return true;
        if (_options.GreetPause <= TimeSpan.Zero) return false;
        // Polled: a zero-byte receive returns at once on Linux, and the pause needs no precision.
        var until = Stopwatch.GetTimestamp() + (long)(_options.GreetPause.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < until)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(10, Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), until).TotalMilliseconds)), life);
            if (client.Available > 0) return true;
        }
        return false;
    }

    /// <summary>
    /// Sends a last reply, then reads and drops what the client still sends (bounded) so that closing does not
    /// turn into a reset that could destroy the reply before the client reads it.
    /// </summary>
    private static async Task CloseWithAsync(Socket client, SmtpReply reply)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await client.SendAsync(reply.ToBytes(), SocketFlags.None, limit.Token);
            client.Shutdown(SocketShutdown.Send);
            var sink = new byte[4096];
            for (int total = 0; total < 256 * 1024;)
            {
                int n = await client.ReceiveAsync(sink, SocketFlags.None, limit.Token);
                if (n == 0) break;
                total += n;
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException) { }
    }

    /// <summary>Performs pending deliveries (before their 250), then writes the replies.</summary>
    private async Task FlushAsync(Socket client, ServerSession session, CancellationToken cancel)
    {
        while (true)
        {
            if (session.PendingDelivery is { } pending)
                session.CompleteDelivery(Deliver(pending));
            if (session.HasOutput)
            {
                var output = session.TakeOutput();
                // A client that sends but never reads must not hold the session past the idle timeout.
                using var stalled = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                stalled.CancelAfter(_options.IdleTimeout);
                await client.SendAsync(output, SocketFlags.None, stalled.Token);
                continue;
            }
            if (session.PendingDelivery is null) return;
        }
    }

    private DeliveryResult Deliver(PendingDelivery pending)
    {
        if (_exactlyOnce is not null) return _exactlyOnce.Deliver(pending);
        try
        {
            var id = _maildir.Deliver(pending.Message.Span);
            Interlocked.Increment(ref _delivered);
            return new DeliveryResult(true, id, null);
        }
        catch (IOException e)
        {
            Log.WriteLine($"delivery failed: {e.Message}");
            return new DeliveryResult(false, null, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        try { await _acceptLoop; } catch (OperationCanceledException) { }
        _stop.Dispose();
        _exactlyOnce?.Dispose();
    }
}
