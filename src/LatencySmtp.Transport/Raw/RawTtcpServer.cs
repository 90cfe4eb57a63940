using LatencySmtp.Smtp;
using LatencySmtp.Tcp;
using LatencySmtp.Transport.Delivery;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Transport.Raw;

/// <summary>
/// The T/TCP-style server: a <see cref="TtcpListener"/> fed from a <see cref="RawLink"/>, one greeting-less
/// <see cref="ServerSession"/> per connection. The replies (after the Maildir delivery) are written into
/// the connection before it answers, so they ride on the SYN-ACK with the FIN. One thread runs it all.
/// </summary>
public sealed class RawTtcpServer : IDisposable
{
    private readonly ISegmentLink _link;
    private readonly ushort _port;
    private readonly ExactlyOnceDelivery _store;
    private readonly Func<PendingDelivery, DeliveryResult> _deliver;
    private readonly ServerOptions _smtp;
    private readonly TtcpListener _listener;
    private readonly Dictionary<Tcb, ServerSession> _sessions = new(ReferenceEqualityComparer.Instance);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly TextWriter _log;

    public RawTtcpServer(ISegmentLink link, ushort port, Maildir maildir, ServerOptions smtp, TtcpOptions? tcp = null, TextWriter? log = null)
        : this(link, port, maildir, smtp, tcp, log, deliver: null) { }

    /// <param name="deliver">tests: stands in front of the store (e.g. to make a delivery fail)</param>
    internal RawTtcpServer(ISegmentLink link, ushort port, Maildir maildir, ServerOptions smtp, TtcpOptions? tcp, TextWriter? log,
        Func<ExactlyOnceDelivery, PendingDelivery, DeliveryResult>? deliver)
    {
        ArgumentNullException.ThrowIfNull(link);
        _link = link;
        _port = port;
        _store = ExactlyOnceDelivery.Beside(maildir);
        _deliver = deliver is null ? _store.Deliver : p => deliver(_store, p);
        _smtp = smtp;
        _log = log ?? TextWriter.Null;
        Host = new TtcpHost(tcp ?? new TtcpOptions(), link.LocalAddress);
        _listener = new TtcpListener(Host, port);
        _thread = new Thread(Loop) { IsBackground = true, Name = $"ttcp-server:{port}" };
        _thread.Start();
    }

    public TtcpHost Host { get; }

    /// <summary>Messages stored in the Maildir.</summary>
    public long Delivered => _store.Delivered;

    /// <summary>Requests whose TXID was seen before: answered with the original 250, not stored again.</summary>
    public long Duplicates => _store.Duplicates;

    public long Malformed => _link.Malformed;

    /// <summary>Snapshot of the listener after the last step: connections, half-open ones, their peak, recycled ones (SYN flood defence).</summary>
    public (int Connections, int HalfOpen, int PeakHalfOpen, long Recycled) ListenerState
    {
        get { lock (_stateLock) return _state; }
    }

    /// <summary>SMTP sessions held after the last step: one per connection the application took that has not ended yet.</summary>
    public int Sessions
    {
        get { lock (_stateLock) return _sessionCount; }
    }

    private readonly Lock _stateLock = new();
    private (int Connections, int HalfOpen, int PeakHalfOpen, long Recycled) _state;
    private int _sessionCount;

    private void Loop()
    {
        var buffer = new byte[64 * 1024];
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                Step(buffer);
            }
            catch (Exception e) when (!_stop.IsCancellationRequested)
            {
                // The link or the listener failed: one step is lost, not the server (a connection's own failure is handled in Step).
                _log.WriteLine($"ttcp server: {e.GetType().Name}: {e.Message}");
                Thread.Sleep(10);
            }
        }
    }

    private void Step(byte[] buffer)
    {
        var now = MonotonicClock.Now;
        var wait = _listener.NextDeadline is { } n ? Math.Clamp((n - now).TotalMilliseconds, 0, 50) : 50;
        if (_link.TryReceive((int)Math.Ceiling(wait), _port, out var source, out var segment))
            _listener.OnSegment(source, _link.LocalAddress, segment, MonotonicClock.Now);

        now = MonotonicClock.Now;
        while (_listener.TryAcceptNew() is { } fresh)
        {
            var session = new ServerSession(_smtp, ServerMode.Greetingless);
            session.Start();
            _sessions[fresh] = session;
        }
        var live = _listener.Connections.ToList();
        foreach (var tcb in live)
        {
            try
            {
                if (tcb.NextDeadline is { } due && now >= due) tcb.OnTimer(now);
                if (_sessions.TryGetValue(tcb, out var session)) Serve(tcb, session, buffer);
            }
            catch (Exception e)
            {
                // One connection's failure ends that connection, never the step for the others.
                _log.WriteLine($"ttcp connection from {tcb.Remote}: {e.GetType().Name}: {e.Message}");
                tcb.Abort("server error");
            }
            while (tcb.TryDequeueOutgoing(out var outgoing)) _link.Send(tcb.Remote.Address, outgoing);
        }
        // Connections end in a timer above, or on a segment (LAST-ACK -> CLOSED on the final ACK, a RST); the
        // listener forgets them either way, so their sessions are released here, not from its list.
        foreach (var tcb in _sessions.Keys.Where(t => t.IsTerminated).ToList())
        {
            if (tcb.Error is { } err) _log.WriteLine($"ttcp connection from {tcb.Remote}: {err}");
            while (tcb.TryDequeueOutgoing(out var outgoing)) _link.Send(tcb.Remote.Address, outgoing);
            _sessions.Remove(tcb);
        }
        while (_listener.TryDequeueOutgoing(out var dest, out var control)) _link.Send(dest, control);
        var halfOpen = _listener.HalfOpen;
        lock (_stateLock)
        {
            _state = (live.Count, halfOpen, Math.Max(_state.PeakHalfOpen, halfOpen), _listener.HalfOpenRecycled);
            _sessionCount = _sessions.Count;
        }
    }

    private void Serve(Tcb tcb, ServerSession session, byte[] buffer)
    {
        // A connection a timer (or the peer) just closed has no one to answer: its data is not acted on.
        if (session.IsClosed || tcb.IsTerminated) return;
        while (tcb.Available > 0)
        {
            var n = tcb.Read(buffer);
            session.Receive(buffer.AsSpan(0, n));
            Drain(session);
        }
        if (tcb.PeerFinReceived && !session.IsClosed)
        {
            session.ReceiveEnd();
            Drain(session);
        }
        if (session.HasOutput && tcb.CanSend) tcb.Send(session.TakeOutput());
        if (session.IsClosed || tcb.PeerFinReceived) tcb.Close();
    }

    /// <summary>Delivers what the session accepted, to the Maildir (once per TXID), before its 250 exists.</summary>
    private void Drain(ServerSession session)
    {
        while (session.PendingDelivery is { } pending)
            session.CompleteDelivery(Deliver(pending));
    }

    /// <summary>Whatever the store throws (permissions, a full disk) is a 451 4.3.0 for this transaction (RFC 3463), not the server's end.</summary>
    private DeliveryResult Deliver(PendingDelivery pending)
    {
        try
        {
            return _deliver(pending);
        }
        catch (Exception e)
        {
            _log.WriteLine($"ttcp server: delivery failed: {e.GetType().Name}: {e.Message}");
            return new DeliveryResult(false, null, "local delivery failed");
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(2));
        _link.Dispose();
        _stop.Dispose();
        _store.Dispose();
    }
}
