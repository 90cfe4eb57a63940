namespace LatencySmtp.Tcp;

/// <summary>
/// Transmission control block (RFC 793 §3.2) of one T/TCP connection (RFC 1644), sans-I/O: segments
/// and the current time go in through <see cref="OnSegment"/>/<see cref="OnTimer"/>; segments come out
/// through <see cref="TryDequeueOutgoing"/> and the next timer through <see cref="NextDeadline"/>.
/// Not thread-safe: one driver per Tcb.
/// </summary>
/// <remarks>
/// Simplifications, by design for a latency prototype: no simultaneous open, no urgent data, no window
/// scaling/SACK/timestamps, no fast retransmit; congestion control is an initial window of
/// <see cref="TtcpOptions.InitialWindowSegments"/> that grows by one segment per ACK and falls to one on
/// a timeout (go-back-N from SND.UNA). Sequence offsets of received data are relative to IRS, so one
/// connection carries under 4 GiB.
/// </remarks>
public sealed partial class Tcb
{
    private readonly TtcpHost _host;
    private readonly TtcpOptions _o;
    private readonly Queue<TcpSegment> _outgoing = new();
    private readonly TimeSpan _openedAt;
    private TimeSpan _now;
    private TcpState _state;

    private Tcb(TtcpHost host, TcpEndpoint local, TcpEndpoint remote, bool isClient, TimeSpan now)
    {
        _host = host;
        _o = host.Options;
        Local = local;
        Remote = remote;
        IsClient = isClient;
        _now = _openedAt = now;
        _iss = host.NextIss();
        _sndUna = _sndNxt = _sndMax = _iss;
        _sndBufSeq = _iss + 1;
        _rto = _o.InitialRto;
        _cwnd = Math.Max(1, _o.InitialWindowSegments);
        _sendMss = _o.Mss;
        _idleDeadline = now + _o.IdleTimeout;
    }

    public TcpEndpoint Local { get; }
    public TcpEndpoint Remote { get; }
    public bool IsClient { get; }
    public TcpState State => _state;

    /// <summary>
    /// RFC 1644 starred state: in SYN-SENT, a FIN is queued behind the SYN (SYN-SENT*); in any later
    /// state, our SYN is not acknowledged yet (half-synchronized: ESTABLISHED*, CLOSE-WAIT*, LAST-ACK*, ...).
    /// </summary>
    public bool Star => _state switch
    {
        TcpState.SynSent => _finQueued,
        TcpState.Closed or TcpState.Listen or TcpState.SynReceived => false,
        _ => !_synAcked,
    };

    /// <summary>True when the TAO test passed on this (server) connection (RFC 1644 §3.2).</summary>
    public bool TaoPassed { get; private set; }

    /// <summary>Server: the SYN's data was accepted before the three-way handshake (TAO pass, or a valid cookie under ttcp-cookie).</summary>
    public bool AcceptedWithSyn { get; private set; }

    /// <summary>Server under ttcp-cookie: what the SYN's cookie option was.</summary>
    public CookieCheck Cookie { get; private set; }

    /// <summary>True once both sides use CC options on this connection.</summary>
    public bool UsesCC => _useCC;
    public uint SendCC => _sndCC;
    public uint? ReceiveCC => _rcvCC;
    public uint InitialSendSequence => _iss;
    public uint? InitialReceiveSequence => _irsKnown ? _irs : null;

    /// <summary>Current retransmission timeout (RFC 6298).</summary>
    public TimeSpan Rto => _rto;
    public TimeSpan? SmoothedRtt => _srtt;

    /// <summary>MSS used for our segments (ours, the peer's advertised one, or the cached one).</summary>
    public int SendMss => _sendMss;

    /// <summary>Smallest peer MSS taken at its word; a smaller one (0 or 1 from a hostile SYN) would leave no
    /// room for payload after the options. 88 is Linux's TCP_MIN_MSS.</summary>
    public const int MinMss = 88;

    private int EffectiveMss(int announced) => Math.Clamp(announced, MinMss, Math.Max(MinMss, (int)_o.Mss));

    public bool IsTerminated => _state == TcpState.Closed;
    public string? Error { get; private set; }
    public TcbCounters Counters { get; } = new();

    /// <summary>Received data may be read by the application (TAO passed, handshake done, or we are the client).</summary>
    internal bool DataAccepted => _accepting;
    internal bool HandedToApplication { get; set; }

    public TimeSpan? NextDeadline
    {
        get
        {
            if (_state == TcpState.Closed) return null;
            TimeSpan? d = _rtxDeadline;
            if (_ackDeadline is { } a && (d is null || a < d)) d = a;
            if (_timeWaitDeadline is { } t && (d is null || t < d)) d = t;
            if (_state != TcpState.TimeWait && (d is null || _idleDeadline < d)) d = _idleDeadline;
            return d;
        }
    }

    public bool TryDequeueOutgoing(out TcpSegment segment)
    {
        if (_outgoing.TryDequeue(out var s)) { segment = s; return true; }
        segment = null!;
        return false;
    }

    /// <summary>
    /// Active open (RFC 793 §3.9 OPEN + SEND [+ CLOSE], RFC 1644 §3.3): the request goes with the SYN,
    /// with a FIN too when <paramref name="closeAfterRequest"/> and everything fits one segment.
    /// </summary>
    public static Tcb Connect(TtcpHost host, TcpEndpoint local, TcpEndpoint remote, ReadOnlySpan<byte> request, bool closeAfterRequest, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(host);
        var t = new Tcb(host, local, remote, isClient: true, now) { _state = TcpState.SynSent };
        var entry = host.Tao.Get(remote.Address);
        if (entry.Mss is { } cachedMss) t._sendMss = t.EffectiveMss(cachedMss);
        if (t._o.UseCC)
        {
            // RFC 1644 §3.3: CC.NEW unless we know this host saw our previous CC (cache.CCsent defined).
            t._useCC = true;
            t._sndCC = host.NextCC();
            if (entry.CCSent is not { } sent || Seq.Lt(t._sndCC, sent))
            {
                t._sentCCNew = true;
                host.Tao.Set(remote.Address, entry with { CCSent = null });
            }
            else
                host.Tao.Set(remote.Address, entry with { CCSent = t._sndCC });
        }
        // ttcp-cookie: the cached cookie, or an empty option asking for one (RFC 7413 §4.1.1).
        if (t._o.UseCookie) t._cookieOption = entry.Cookie ?? [];
        t._sndBuf.Append(request);
        t._finQueued = closeAfterRequest;
        t.Flush(forceAck: false);
        return t;
    }

    /// <summary>Passive open on a SYN arriving at a listener (RFC 793 §3.9 LISTEN, RFC 1644 §4.2 TAO test).</summary>
    internal static Tcb Accept(TtcpHost host, TcpEndpoint local, TcpEndpoint remote, TcpSegment syn, TimeSpan now)
    {
        var t = new Tcb(host, local, remote, isClient: false, now) { _state = TcpState.SynReceived };
        t.Counters.SegmentsReceived++;
        t.Counters.BytesReceived += syn.Payload.Length;
        t._irs = syn.Seq;
        t._irsKnown = true;
        t._rcvNxt = t._lastAckSent = syn.Seq + 1;
        t._sndWnd = syn.Window;
        t._sndWndKnown = true;
        t._sendMss = t.EffectiveMss(syn.Options.Mss ?? DefaultMss);
        if (syn.Options.Mss is { } peerMss) t._peerMss = (ushort)t.EffectiveMss(peerMss);

        var o = syn.Options;
        bool cookieValid = false;
        if (host.Cookies is { } issuer && o.FastOpenCookie is { } cookie)
        {
            // RFC 7413 §4.1.3: answer a request, an invalid or an aging cookie with a fresh one on the SYN-ACK.
            t.Cookie = issuer.Check(remote.Address, cookie, now);
            cookieValid = t.Cookie is CookieCheck.Current or CookieCheck.Previous;
            if (t.Cookie != CookieCheck.Current) t._cookieOption = issuer.Issue(remote.Address, now);
        }
        bool cookieMode = host.Cookies is not null;
        if (t._o.UseCC && (o.CC ?? o.CCNew) is { } rcvCC and not 0) // 0 is "undefined" (RFC 1644 §3.2)
        {
            t._useCC = true;
            t._sndCC = host.NextCC();
            t._rcvCC = rcvCC;
            t._synCCNew = o.CC is null;
            var entry = host.Tao.Get(remote.Address);
            // TAO test (RFC 1644 §3.2): a CC above the cached one is not an old duplicate.
            t.TaoPassed = o.CC is { } cc && entry.CC is { } cached && Seq.Gt(cc, cached);
            // Plain ttcp trusts the TAO test (RFC 1644 §3.3); under cookies the cache learns at proof, below.
            if (!cookieMode && t.TaoPassed)
                host.Tao.Set(remote.Address, entry with { CC = rcvCC, Mss = t._peerMss ?? entry.Mss });
            else if (!cookieMode && t._synCCNew && entry.CC is not null)
                host.Tao.Set(remote.Address, entry with { CC = null }); // CC.NEW: undefined until the 3WHS completes
        }
        // Under ttcp-cookie the cache learns only from connections proven to come from the address (cookie
        // now, or the completed handshake): spoofed SYNs must neither rewrite a client's CC nor evict its entry.
        if (cookieMode && cookieValid) t.LearnPeer();
        t.AcceptedWithSyn = cookieMode ? cookieValid && (!t._o.CookieRequiresTao || t.TaoPassed) : t.TaoPassed;
        if (t.AcceptedWithSyn)
        {
            // Not an old duplicate, from the address it claims: accept data and FIN now.
            t._accepting = true;
            t._state = TcpState.Established;
        }

        var ack = t.ProcessText(syn.Seq + 1, syn.Payload.Span, syn.Has(TcpFlags.Fin));
        // With the data accepted the SYN-ACK waits for the response (hold timer); else it goes at once.
        t.Flush(forceAck: !t.AcceptedWithSyn || ack == AckDecision.Now || ack == AckDecision.None);
        return t;
    }

    /// <summary>
    /// A reset for a segment that has no connection (RFC 793 §3.9, "If the state is CLOSED"): null for a RST.
    /// </summary>
    public static TcpSegment? ResetFor(TcpSegment incoming)
    {
        ArgumentNullException.ThrowIfNull(incoming);
        if (incoming.Has(TcpFlags.Rst)) return null;
        return incoming.Has(TcpFlags.Ack)
            ? new TcpSegment(incoming.DestinationPort, incoming.SourcePort, incoming.Ack, 0, TcpFlags.Rst, 0, TcpOptions.None, default)
            : new TcpSegment(incoming.DestinationPort, incoming.SourcePort, 0, incoming.Seq + (uint)incoming.SequenceLength,
                TcpFlags.Rst | TcpFlags.Ack, 0, TcpOptions.None, default);
    }

    /// <summary>Number of received, in-order bytes the application can read.</summary>
    public int Available => _rcvQueue.Count;

    /// <summary>The peer's FIN was received in order: no more data will come.</summary>
    public bool PeerFinReceived => _peerFinReceived;

    public int Read(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, _rcvQueue.Count);
        if (n == 0) return 0;
        int before = ReceiveWindow;
        _rcvQueue.Slice(0, n).CopyTo(destination);
        _rcvQueue.Discard(n);
        // Window update when a nearly closed window reopens (RFC 1122 §4.2.3.3).
        if (before < _sendMss && ReceiveWindow >= _sendMss && _state != TcpState.Closed && !_peerFinReceived && _irsKnown)
            Flush(forceAck: true);
        return n;
    }

    /// <summary>RFC 793 §3.9 SEND is allowed: not closed by either side's application, by a timer or a RST.</summary>
    public bool CanSend => !_finQueued && _state is TcpState.SynSent or TcpState.SynReceived or TcpState.Established or TcpState.CloseWait;

    /// <summary>Queues data to send after any data queued before.</summary>
    public void Send(ReadOnlySpan<byte> data)
    {
        if (!CanSend)
            throw new InvalidOperationException($"Cannot send in state {_state}{(_finQueued ? " after Close" : "")}.");
        _sndBuf.Append(data);
        Flush(forceAck: false);
    }

    /// <summary>Sends a FIN after the queued data (RFC 793 §3.9 CLOSE).</summary>
    public void Close()
    {
        if (_finQueued || _state is TcpState.Closed or TcpState.TimeWait) return;
        _finQueued = true;
        _state = _state switch
        {
            TcpState.Established => TcpState.FinWait1,
            TcpState.CloseWait => TcpState.LastAck,
            _ => _state, // SYN-SENT (becomes SYN-SENT*) and SYN-RECEIVED move on when the SYN is acknowledged
        };
        Flush(forceAck: false);
    }

    /// <summary>Abandons the connection without a RST (local abort).</summary>
    public void Abort(string reason = "aborted") => Terminate(reason);

    public override string ToString() =>
        $"{(IsClient ? "client" : "server")} {Local}->{Remote} {_state}{(Star ? "*" : "")} una={_sndUna} nxt={_sndNxt} rcv={_rcvNxt}" +
        (Error is null ? "" : $" error={Error}");

    private void Terminate(string? error)
    {
        if (_state == TcpState.Closed) return;
        _state = TcpState.Closed;
        Error ??= error;
        _rtxDeadline = _ackDeadline = _timeWaitDeadline = null;
    }
}
