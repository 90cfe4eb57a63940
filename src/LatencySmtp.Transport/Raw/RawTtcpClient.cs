using System.Diagnostics;
using LatencySmtp.Smtp;
using LatencySmtp.Tcp;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Transport.Raw;

/// <summary>
/// The T/TCP-style client: the greeting-less request goes out as SYN + data + FIN from the user-space
/// TCP (<see cref="Tcb"/>), the replies come back on the SYN-ACK. One instance keeps the host state
/// (CCgen, TAO cache) across transactions, as a kernel would (RFC 1644 §3.1).
/// </summary>
/// <remarks>
/// <see cref="Run"/> returns once the replies are in and our ACK of the server's FIN is out; the connection
/// stays in TIME-WAIT here (RFC 793 §3.5) so a retransmitted FIN, after our last ACK was lost, is ACKed
/// again instead of leaving the server retransmitting for minutes. A background thread serves those
/// connections between runs; a run serves them itself.
/// </remarks>
public sealed class RawTtcpClient : IDisposable
{
    private readonly ISegmentLink _link;
    private readonly TtcpHost _host;
    private readonly Lock _gate = new();                        // one driver of the link and the Tcbs at a time
    private readonly List<Lingering> _timeWait = new();         // under _gate
    private int _waiting;                                       // threads that want _gate: the linger thread yields to them
    private Thread? _lingerThread;                              // under _gate
    private volatile bool _disposed;
    private volatile int _timeWaitCount;
    private int _nextPort;

    private sealed record Lingering(Tcb Tcb, TimeSpan FirstRetransmissionBy);

    public RawTtcpClient(ISegmentLink link, TtcpOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(link);
        _link = link;
        _host = new TtcpHost(options ?? new TtcpOptions(), link.LocalAddress);
        // Ports outside the kernel's ephemeral range (32768-60999): the kernel never owns them.
        _nextPort = 20000 + Random.Shared.Next(5000);
    }

    public TtcpHost Host => _host;

    /// <summary>Connections of earlier runs still in TIME-WAIT, answering a retransmitted FIN.</summary>
    public int TimeWaitConnections => _timeWaitCount;

    public TransactionResult Run(uint server, ushort serverPort, ClientSession session, TimeSpan? timeout = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ObjectDisposedException.ThrowIf(_disposed, this);
        Interlocked.Increment(ref _waiting);
        lock (_gate)
        {
            Interlocked.Decrement(ref _waiting);
            return RunLocked(server, serverPort, session, timeout ?? TimeSpan.FromSeconds(30), cancel);
        }
    }

    private TransactionResult RunLocked(uint server, ushort serverPort, ClientSession session, TimeSpan limit, CancellationToken cancel)
    {
        if (_nextPort > 29999) _nextPort = 20000;
        var local = new TcpEndpoint(_link.LocalAddress, (ushort)_nextPort++);
        var remote = new TcpEndpoint(server, serverPort);
        session.Start();
        var request = session.TakeOutput();
        var tcb = Tcb.Connect(_host, local, remote, request, closeAfterRequest: true, MonotonicClock.Now);
        // accept_ms starts when the first SYN leaves (DESIGN.md), not before the TCB was built.
        var clock = Stopwatch.StartNew();
        double acceptMs = double.NaN;
        string? error = null;
        var buffer = new byte[64 * 1024];
        while (true)
        {
            while (tcb.TryDequeueOutgoing(out var outgoing))
                _link.Send(server, outgoing);
            if (tcb.Error is not null) { error = tcb.Error; break; }
            // Done once the replies are in and our ACK of the server's FIN is out (TIME-WAIT);
            // QUIT's 221 is not waited for beyond that.
            if (tcb.IsTerminated || (tcb.State == TcpState.TimeWait && (session.IsDone || tcb.PeerFinReceived))) break;
            if (cancel.IsCancellationRequested) { error = "cancelled"; break; }
            if (clock.Elapsed > limit) { error = $"timed out after {limit.TotalSeconds:F1} s in {tcb.State}"; break; }

            var now = MonotonicClock.Now;
            var wait = tcb.NextDeadline is { } d ? Math.Clamp((d - now).TotalMilliseconds, 0, 50) : 50;
            if (_link.TryReceive((int)Math.Ceiling(wait), null, out var src, out var segment))
            {
                if (segment.DestinationPort == local.Port)
                {
                    if (src == server && segment.SourcePort == serverPort) tcb.OnSegment(segment, MonotonicClock.Now);
                }
                else
                    OfferToTimeWait(src, segment);
            }
            if (tcb.NextDeadline is { } due && MonotonicClock.Now >= due)
                tcb.OnTimer(MonotonicClock.Now);
            ServeTimeWait();

            var available = tcb.Available;
            if (available > 0)
            {
                var n = tcb.Read(buffer);
                session.Receive(buffer.AsSpan(0, n));
                if (double.IsNaN(acceptMs) && session.Outcome == ClientOutcome.Accepted)
                    acceptMs = clock.Elapsed.TotalMilliseconds;
            }
            if (tcb.PeerFinReceived && tcb.Available == 0 && !session.IsDone)
                session.ReceiveEnd();
        }
        while (tcb.TryDequeueOutgoing(out var last))
            _link.Send(server, last);
        var elapsed = clock.Elapsed.TotalMilliseconds;
        if (tcb.State == TcpState.TimeWait) Linger(tcb);
        var outcome = session.Outcome == ClientOutcome.Pending ? ClientOutcome.Failed : session.Outcome;
        return new TransactionResult(outcome, acceptMs, elapsed, local.Port,
            session.FinalReply, session.ServerIdentity, error ?? session.Error, session.RefusedRecipients);
    }

    /// <summary>
    /// Keeps answering retransmitted FINs for at most <paramref name="bound"/>, until each connection in TIME-WAIT has
    /// ended or the server's first retransmission would have arrived (<see cref="FirstRetransmissionWindow"/>). For a
    /// one-shot process about to exit, which cannot stay for the whole TIME-WAIT.
    /// </summary>
    public void LingerInTimeWait(TimeSpan bound)
    {
        var until = MonotonicClock.Now + bound;
        while (!_disposed && MonotonicClock.Now < until)
        {
            Interlocked.Increment(ref _waiting);
            lock (_gate)
            {
                Interlocked.Decrement(ref _waiting);
                var now = MonotonicClock.Now;
                if (!_timeWait.Any(l => now < l.FirstRetransmissionBy)) return;
            }
            Thread.Sleep(10);
        }
    }

    /// <summary>
    /// How long after our last ACK a retransmitted FIN can still come for sure: the server resends one RTO after its FIN
    /// (RFC 6298 §5; at least 1 s), so its copy arrives one RTO after ours did. Twice our RTO leaves room for a server
    /// whose estimate is above ours.
    /// </summary>
    public static TimeSpan FirstRetransmissionWindow(Tcb tcb)
    {
        ArgumentNullException.ThrowIfNull(tcb);
        return tcb.Rto * 2;
    }

    private void Linger(Tcb tcb)
    {
        var now = MonotonicClock.Now;
        _timeWait.Add(new Lingering(tcb, now + FirstRetransmissionWindow(tcb)));
        _timeWaitCount = _timeWait.Count;
        if (_lingerThread is null && !_disposed)
        {
            _lingerThread = new Thread(LingerLoop) { IsBackground = true, Name = "ttcp-client:time-wait" };
            _lingerThread.Start();
        }
    }

    /// <summary>Serves connections in TIME-WAIT while no run does, and ends once there are none.</summary>
    private void LingerLoop()
    {
        while (!_disposed)
        {
            if (Volatile.Read(ref _waiting) > 0) { Thread.Sleep(1); continue; }
            lock (_gate)
            {
                if (_timeWait.Count == 0 || _disposed) { _lingerThread = null; return; }
                // Short waits: a run that wants the link gets it within one.
                if (_link.TryReceive(10, null, out var src, out var segment)) OfferToTimeWait(src, segment);
                ServeTimeWait();
            }
        }
    }

    /// <summary>A segment for a connection in TIME-WAIT; anything else is not ours (another process may own the port): dropped, never reset.</summary>
    private void OfferToTimeWait(uint source, TcpSegment segment)
    {
        foreach (var l in _timeWait)
        {
            var t = l.Tcb;
            if (t.Local.Port == segment.DestinationPort && t.Remote.Address == source && t.Remote.Port == segment.SourcePort)
            {
                t.OnSegment(segment, MonotonicClock.Now);
                return;
            }
        }
    }

    private void ServeTimeWait()
    {
        if (_timeWait.Count == 0) return;
        var now = MonotonicClock.Now;
        foreach (var l in _timeWait)
        {
            if (l.Tcb.NextDeadline is { } due && now >= due) l.Tcb.OnTimer(now);
            while (l.Tcb.TryDequeueOutgoing(out var segment)) _link.Send(l.Tcb.Remote.Address, segment);
        }
        _timeWait.RemoveAll(l => l.Tcb.IsTerminated);
        _timeWaitCount = _timeWait.Count;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Thread? linger;
        lock (_gate) linger = _lingerThread;
        linger?.Join(TimeSpan.FromSeconds(1));
        _link.Dispose();
    }
}
