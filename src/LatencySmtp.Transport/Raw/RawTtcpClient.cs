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
public sealed class RawTtcpClient : IDisposable
{
    private readonly RawLink _link;
    private readonly TtcpHost _host;
    private int _nextPort;

    public RawTtcpClient(RawLink link, TtcpOptions? options = null)
    {
        _link = link;
        _host = new TtcpHost(options ?? new TtcpOptions(), link.LocalAddress);
        // Ports outside the kernel's ephemeral range (32768-60999): the kernel never owns them.
        _nextPort = 20000 + Random.Shared.Next(5000);
    }

    public TtcpHost Host => _host;

    public TransactionResult Run(uint server, ushort serverPort, ClientSession session, TimeSpan? timeout = null, CancellationToken cancel = default)
    {
        if (_nextPort > 29999) _nextPort = 20000;
        var local = new TcpEndpoint(_link.LocalAddress, (ushort)_nextPort++);
        var remote = new TcpEndpoint(server, serverPort);
        var limit = timeout ?? TimeSpan.FromSeconds(30);
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
            if (_link.TryReceive((int)Math.Ceiling(wait), local.Port, out var src, out var segment) && src == server && segment.SourcePort == serverPort)
                tcb.OnSegment(segment, MonotonicClock.Now);
            if (tcb.NextDeadline is { } due && MonotonicClock.Now >= due)
                tcb.OnTimer(MonotonicClock.Now);

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
        var outcome = session.Outcome == ClientOutcome.Pending ? ClientOutcome.Failed : session.Outcome;
        return new TransactionResult(outcome, acceptMs, clock.Elapsed.TotalMilliseconds, local.Port,
            session.FinalReply, session.ServerIdentity, error ?? session.Error);
    }

    public void Dispose() => _link.Dispose();
}
