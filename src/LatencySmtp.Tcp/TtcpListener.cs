namespace LatencySmtp.Tcp;

/// <summary>
/// Server-side demultiplexer for one local port: creates a <see cref="Tcb"/> per incoming SYN, routes
/// later segments to it, answers strays with RST (RFC 793 §3.4), and queues connections for the application.
/// </summary>
/// <remarks>
/// A terminated connection leaves a tombstone (remote endpoint + IRS) for 2 MSL plus the peer's longest
/// retransmission span. A retransmitted SYN of that connection gets a RST instead of a new Tcb: after
/// the TAO test accepted its data once, a SYN-RECEIVED incarnation must not deliver it a second time.
/// </remarks>
public sealed class TtcpListener
{
    private readonly Dictionary<(uint Address, ushort Port), Tcb> _connections = new();
    private readonly Queue<Tcb> _acceptQueue = new();
    private readonly Queue<(uint Dest, TcpSegment Segment)> _outgoing = new();
    private readonly Dictionary<(uint Address, ushort Port), (uint Irs, TimeSpan Until)> _tombstones = new();
    private readonly Queue<(uint Address, ushort Port)> _tombstoneOrder = new();
    private readonly TimeSpan _tombstoneLifetime;
    private readonly LinkedList<((uint, ushort) Key, Tcb Tcb)> _halfOpen = new();
    private TimeSpan _now;

    public TtcpListener(TtcpHost host, ushort port, int maxConnections = 4096, int maxHalfOpen = 256)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHalfOpen, 1);
        Host = host;
        Port = port;
        MaxConnections = maxConnections;
        MaxHalfOpen = Math.Min(maxHalfOpen, maxConnections);
        var o = host.Options;
        var span = TimeSpan.Zero;
        var rto = o.InitialRto;
        for (int i = 0; i <= o.MaxRetransmissions; i++)
        {
            span += rto;
            rto = rto * 2 < o.MaxRto ? rto * 2 : o.MaxRto;
        }
        _tombstoneLifetime = o.Msl * 2 + span;
    }

    public TtcpHost Host { get; }
    public ushort Port { get; }
    public int MaxConnections { get; }

    /// <summary>Most connections held in SYN-RECEIVED (their SYN data buffered, not yet acted on).</summary>
    public int MaxHalfOpen { get; }

    /// <summary>Half-open connections now (after pruning).</summary>
    public int HalfOpen { get { PruneHalfOpen(); return _halfOpen.Count; } }

    /// <summary>Half-open connections recycled to make room for a new SYN (RFC 4987 §3.4).</summary>
    public long HalfOpenRecycled { get; private set; }

    /// <summary>Segments dropped or answered with RST here, without a Tcb.</summary>
    public long Strays { get; private set; }

    /// <summary>Feeds a segment addressed to this host; returns its connection, or null when dropped or reset.</summary>
    public Tcb? OnSegment(uint source, uint dest, TcpSegment segment, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(segment);
        if (now > _now) _now = now;
        if (segment.DestinationPort != Port) { Strays++; return null; }
        var key = (source, segment.SourcePort);
        if (_connections.TryGetValue(key, out var tcb))
        {
            if (!tcb.IsTerminated)
            {
                tcb.OnSegment(segment, now);
                Offer(tcb);
                return tcb;
            }
            Bury(key, tcb);
        }

        if (segment.Has(TcpFlags.Rst)) { Strays++; return null; }
        if (segment.Has(TcpFlags.Syn) && !segment.Has(TcpFlags.Ack))
        {
            if (_tombstones.TryGetValue(key, out var stone) && stone.Irs == segment.Seq && stone.Until > _now)
            {
                Reset(source, segment);
                return null;
            }
            if (_connections.Count >= MaxConnections) Sweep();
            if (_connections.Count >= MaxConnections) { Strays++; return null; } // the client will retransmit
            tcb = Tcb.Accept(Host, new TcpEndpoint(dest, Port), new TcpEndpoint(source, segment.SourcePort), segment, now);
            _connections[key] = tcb;
            if (!tcb.DataAccepted) AddHalfOpen(key, tcb);
            Offer(tcb);
            return tcb;
        }
        if (!segment.Has(TcpFlags.Ack)) { Strays++; return null; } // RFC 793 §3.9 LISTEN: neither SYN nor ACK: drop
        Reset(source, segment);
        return null;
    }

    /// <summary>Fires due timers of every connection.</summary>
    public void OnTimer(TimeSpan now)
    {
        if (now > _now) _now = now;
        foreach (var tcb in _connections.Values)
        {
            tcb.OnTimer(now);
            Offer(tcb);
        }
    }

    public TimeSpan? NextDeadline
    {
        get
        {
            TimeSpan? d = null;
            foreach (var tcb in _connections.Values)
                if (tcb.NextDeadline is { } t && (d is null || t < d)) d = t;
            return d;
        }
    }

    /// <summary>Live connections; terminated ones are removed (and tombstoned) on enumeration.</summary>
    public IEnumerable<Tcb> Connections
    {
        get
        {
            Sweep();
            return _connections.Values.ToArray();
        }
    }

    /// <summary>RSTs not tied to a Tcb; a Tcb's own segments are dequeued from the Tcb.</summary>
    public bool TryDequeueOutgoing(out uint dest, out TcpSegment segment)
    {
        if (_outgoing.TryDequeue(out var item)) { (dest, segment) = item; return true; }
        dest = 0;
        segment = null!;
        return false;
    }

    /// <summary>Next connection whose data the application may read (TAO passed or three-way handshake done).</summary>
    public Tcb? TryAcceptNew() => _acceptQueue.TryDequeue(out var tcb) ? tcb : null;

    private void Offer(Tcb tcb)
    {
        if (tcb.DataAccepted && !tcb.HandedToApplication)
        {
            tcb.HandedToApplication = true;
            _acceptQueue.Enqueue(tcb);
        }
    }

    private void AddHalfOpen((uint, ushort) key, Tcb tcb)
    {
        PruneHalfOpen();
        while (_halfOpen.Count >= MaxHalfOpen && _halfOpen.First is { } oldest)
        {
            _halfOpen.RemoveFirst();
            oldest.Value.Tcb.Abort("recycled: too many half-open connections");
            _connections.Remove(oldest.Value.Key);
            HalfOpenRecycled++;
        }
        _halfOpen.AddLast((key, tcb));
    }

    private void PruneHalfOpen()
    {
        for (var n = _halfOpen.First; n is not null;)
        {
            var next = n.Next;
            if (n.Value.Tcb.DataAccepted || n.Value.Tcb.IsTerminated) _halfOpen.Remove(n);
            n = next;
        }
    }

    private void Reset(uint source, TcpSegment segment)
    {
        Strays++;
        if (Tcb.ResetFor(segment) is { } rst) _outgoing.Enqueue((source, rst));
    }

    private void Sweep()
    {
        foreach (var (key, tcb) in _connections.ToArray())
            if (tcb.IsTerminated) Bury(key, tcb);
    }

    private void Bury((uint, ushort) key, Tcb tcb)
    {
        _connections.Remove(key);
        if (!tcb.InitialReceiveSequence.HasValue) return;
        // Bounded: at capacity the oldest tombstone goes first.
        while (_tombstoneOrder.Count >= 4 * MaxConnections && _tombstoneOrder.TryDequeue(out var old))
            _tombstones.Remove(old);
        if (!_tombstones.ContainsKey(key)) _tombstoneOrder.Enqueue(key);
        _tombstones[key] = (tcb.InitialReceiveSequence.Value, _now + _tombstoneLifetime);
    }
}
