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
    public ServerOptions Smtp { get; init; } = new();
    /// <summary>Network namespace to create the listening socket in (null: the current one).</summary>
    public string? Namespace { get; init; }
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);   // RFC 5321 §4.5.3.2.7: at least 5 minutes
    public int MaxSessions { get; init; } = 100;
    public bool FastOpen { get; init; }
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
    private long _delivered;
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
            s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            s.Bind(options.Listen);
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
            if (Interlocked.Increment(ref _sessions) > _options.MaxSessions)
            {
                Interlocked.Decrement(ref _sessions);
                // RFC 5321 §3.8: a server that cannot serve now answers 421 and closes.
                _ = RefuseAsync(client);
                continue;
            }
            _ = Task.Run(async () =>
            {
                try { await ServeAsync(client); }
                finally { Interlocked.Decrement(ref _sessions); }
            });
        }
    }

    private async Task RefuseAsync(Socket client)
    {
        try
        {
            await client.SendAsync(SmtpReply.Single(421, $"4.3.2 {_options.Smtp.HostName} too many sessions, try later").ToBytes());
        }
        catch (SocketException) { }
        finally { client.Dispose(); }
    }

    private async Task ServeAsync(Socket client)
    {
        var remote = client.RemoteEndPoint;
        var session = new ServerSession(_options.Smtp, _options.Mode);
        var buffer = new byte[16 * 1024];
        try
        {
            using (client)
            {
                session.Start();
                await FlushAsync(client, session);
                while (!session.IsClosed)
                {
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    idle.CancelAfter(_options.IdleTimeout);
                    int n;
                    try
                    {
                        n = await client.ReceiveAsync(buffer, SocketFlags.None, idle.Token);
                    }
                    catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                    {
                        await client.SendAsync(SmtpReply.Single(421, "4.4.2 Idle timeout, closing").ToBytes());
                        return;
                    }
                    if (n == 0)
                    {
                        session.ReceiveEnd();
                        await FlushAsync(client, session);
                        return;
                    }
                    session.Receive(buffer.AsSpan(0, n));
                    await FlushAsync(client, session);
                }
                client.Shutdown(SocketShutdown.Send);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            Log.WriteLine($"session {remote}: {e.Message}");
        }
    }

    /// <summary>Performs pending deliveries (before their 250), then writes the replies.</summary>
    private async Task FlushAsync(Socket client, ServerSession session)
    {
        while (true)
        {
            if (session.PendingDelivery is { } pending)
                session.CompleteDelivery(Deliver(pending));
            if (session.HasOutput)
            {
                var output = session.TakeOutput();
                await client.SendAsync(output, SocketFlags.None);
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
