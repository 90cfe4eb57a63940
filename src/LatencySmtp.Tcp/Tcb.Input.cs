namespace LatencySmtp.Tcp;

// Receive side: RFC 793 §3.9 "SEGMENT ARRIVES" with RFC 1644 §4.2 (CC test, half-synchronized states).
public sealed partial class Tcb
{
    private uint _irs;
    private bool _irsKnown;
    private uint _rcvNxt;
    private readonly ByteBuffer _rcvQueue = new();   // in order, not yet read by the application
    private byte[]? _ring;                           // out-of-order (or not yet accepted) data, indexed by offset from IRS+1
    private ulong[]? _ringHave;
    private uint? _peerFinSeq;
    private bool _peerFinReceived;
    private bool _accepting;                         // received data may move in order to the application
    private bool _synCCNew;                          // server: the peer's SYN carried CC.NEW, not CC
    private ushort? _peerMss;                        // server: the MSS the peer's SYN announced (clamped)

    private enum AckDecision { None, Hold, Now }

    /// <summary>Window we advertise: free space in the receive buffer (no window scaling).</summary>
    private int ReceiveWindow => Math.Min(ushort.MaxValue, Math.Max(0, _o.ReceiveBufferSize - _rcvQueue.Count));

    public void OnSegment(TcpSegment segment, TimeSpan now)
    {
        ArgumentNullException.ThrowIfNull(segment);
        if (now > _now) _now = now;
        Counters.SegmentsReceived++;
        Counters.BytesReceived += segment.Payload.Length;
        if (_state == TcpState.Closed) { Drop(); return; }
        _idleDeadline = _now + _o.IdleTimeout;
        if (_state == TcpState.SynSent) { OnSegmentSynSent(segment); return; }

        var seg = segment;
        bool rst = seg.Has(TcpFlags.Rst);

        // RFC 1644 §4.2: a segment whose CC differs from RCV.CC belongs to another incarnation.
        if (_useCC && _rcvCC is { } rcvCC && !rst)
        {
            uint? segCC = seg.Has(TcpFlags.Syn) ? seg.Options.CC ?? seg.Options.CCNew : seg.Options.CC;
            if (segCC != rcvCC) { Drop(); return; }
        }

        if (seg.Has(TcpFlags.Syn) && seg.Seq == _irs && !rst)
        {
            if (!seg.Has(TcpFlags.Ack) && !IsClient) { OnDuplicateSyn(); return; }
            // A retransmitted SYN-ACK: its SYN is old news, the rest may still be new.
            seg = seg with { Seq = seg.Seq + 1, Flags = seg.Flags & ~TcpFlags.Syn };
        }

        // First: sequence number (RFC 793 §3.9).
        if (!Acceptable(seg))
        {
            Drop();
            if (!rst)
            {
                if (_state == TcpState.TimeWait && seg.Has(TcpFlags.Fin)) StartTimeWait(); // retransmitted FIN: restart
                Flush(forceAck: true);
            }
            return;
        }

        // Second: RST. Ignored in TIME-WAIT against assassination (RFC 1337).
        if (rst)
        {
            if (_state == TcpState.TimeWait) { Drop(); return; }
            Terminate("connection reset");
            return;
        }

        // Fourth: a SYN in the window from another incarnation gets a challenge ACK (RFC 5961 §4).
        if (seg.Has(TcpFlags.Syn))
        {
            Drop();
            Flush(forceAck: true);
            return;
        }

        // Fifth: ACK.
        if (!seg.Has(TcpFlags.Ack))
        {
            // RFC 1644 §4.2: while our SYN is unacknowledged, the peer (still in SYN-SENT*) sends without ACK.
            if (_synAcked || !(_state == TcpState.SynReceived || _accepting)) { Drop(); return; }
        }
        else
        {
            uint ack = seg.Ack;
            if (_state == TcpState.SynReceived)
            {
                if (!(Seq.Gt(ack, _sndUna) && Seq.Le(ack, _sndMax)))
                {
                    Drop();
                    if (ResetFor(seg) is { } reset) _outgoing.Enqueue(reset);
                    return;
                }
                CompleteHandshake();
            }
            if (Seq.Gt(ack, _sndMax)) { Drop(); Flush(forceAck: true); return; }
            if (Seq.Gt(ack, _sndUna)) AdvanceUna(ack);
            else if (ack == _sndUna) OnProbeAnswered(seg.Window);
            if (Seq.Ge(ack, _sndUna)) _sndWnd = seg.Window;
            AfterAck();
            if (_state == TcpState.Closed) return;
        }

        // Sixth and eighth: text and FIN.
        var decision = ProcessText(seg.Seq, seg.Payload.Span, seg.Has(TcpFlags.Fin));
        Flush(forceAck: decision == AckDecision.Now);
    }

    private void OnSegmentSynSent(TcpSegment seg)
    {
        bool hasAck = seg.Has(TcpFlags.Ack);
        if (hasAck && (Seq.Le(seg.Ack, _iss) || Seq.Gt(seg.Ack, _sndMax)))
        {
            Drop();
            if (ResetFor(seg) is { } reset) _outgoing.Enqueue(reset);
            return;
        }
        if (seg.Has(TcpFlags.Rst))
        {
            if (hasAck) Terminate("connection reset");
            else Drop();
            return;
        }
        if (!seg.Has(TcpFlags.Syn) || !hasAck) { Drop(); return; } // no simultaneous open

        if (_useCC)
        {
            if (seg.Options.CCEcho is { } echo)
            {
                // RFC 1644 §4.2: the SYN-ACK must echo our CC, else it answers an older SYN.
                if (echo != _sndCC || seg.Options.CC is null) { Drop(); return; }
                _rcvCC = seg.Options.CC;
                var entry = _host.Tao.Get(Remote.Address);
                if (entry.CCSent is null) _host.Tao.Set(Remote.Address, entry with { CCSent = _sndCC });
            }
            else
            {
                _useCC = false; // the peer does not speak RFC 1644
                InvalidateOptions();
            }
        }

        // ttcp-cookie: keep what the server gave us for the next SYN (RFC 7413 §4.1.3 client cookie cache).
        if (_o.UseCookie && seg.Options.FastOpenCookie is { Length: > 0 } cookie)
            _host.Tao.Update(Remote.Address, e => e with { Cookie = cookie });

        _irs = seg.Seq;
        _irsKnown = true;
        _rcvNxt = _lastAckSent = seg.Seq + 1;
        if (seg.Options.Mss is { } peerMss)
        {
            _sendMss = EffectiveMss(peerMss);
            _host.Tao.Update(Remote.Address, e => e with { Mss = (ushort)_sendMss });
        }
        _accepting = true;
        AdvanceUna(seg.Ack);
        _sndWnd = seg.Window;
        _sndWndKnown = true;
        _state = _finQueued ? TcpState.FinWait1 : TcpState.Established;
        AfterAck();
        if (_state == TcpState.Closed) return;
        ProcessText(seg.Seq + 1, seg.Payload.Span, seg.Has(TcpFlags.Fin));
        Flush(forceAck: true); // the SYN is acknowledged at once
    }

    /// <summary>The peer retransmitted its SYN: answer with our SYN-ACK again, never a second delivery.</summary>
    private void OnDuplicateSyn()
    {
        Drop();
        if (_sndMax == _iss) return;      // SYN-ACK still held for the response: it will come
        if (!_synAcked)
        {
            _sndNxt = _sndUna;
            _rttTiming = false;
            if (SendSegments(1)) _ackDeadline = null;
        }
        else
            Flush(forceAck: true);
    }

    /// <summary>SYN-RECEIVED to ESTABLISHED: held data becomes deliverable; TAO cache learns the CC (RFC 1644 §3.3).</summary>
    private void CompleteHandshake()
    {
        _accepting = true;
        _state = _finQueued ? TcpState.FinWait1 : TcpState.Established;
        LearnPeer();
    }

    /// <summary>
    /// Server, once the peer's address is proven (completed handshake, or a valid cookie): cache.CC and MSS.
    /// RFC 1644 §3.3: after CC.NEW cache.CC is undefined and the handshake sets it to the SYN's CC, even below
    /// the old value (the client restarted CCgen); a CC only ever raises it.
    /// </summary>
    private void LearnPeer()
    {
        uint? cc = _useCC ? _rcvCC : null;
        _host.Tao.Update(Remote.Address, e => e with
        {
            CC = cc is not { } c ? e.CC : _synCCNew || e.CC is not { } cached || Seq.Gt(c, cached) ? c : cached,
            Mss = _peerMss ?? e.Mss,
        });
    }

    private void AfterAck()
    {
        if (!_finAcked) return;
        switch (_state)
        {
            case TcpState.FinWait1: _state = TcpState.FinWait2; break;
            case TcpState.Closing: EnterTimeWait(); break;
            case TcpState.LastAck: Terminate(null); break;
        }
    }

    private void OnPeerFin()
    {
        switch (_state)
        {
            case TcpState.SynReceived or TcpState.Established: _state = TcpState.CloseWait; break;
            case TcpState.FinWait1: _state = _finAcked ? TcpState.TimeWait : TcpState.Closing; break;
            case TcpState.FinWait2: EnterTimeWait(); break;
        }
        if (_state == TcpState.TimeWait) EnterTimeWait();
    }

    private void EnterTimeWait()
    {
        _state = TcpState.TimeWait;
        _rtxDeadline = null;
        StartTimeWait();
    }

    /// <summary>RFC 1644 §3.4: with CC, a connection shorter than MSL needs only 8 RTO of TIME-WAIT; a truncation, never longer than 2 MSL.</summary>
    private void StartTimeWait() =>
        _timeWaitDeadline = _now + (_useCC && _now - _openedAt < _o.Msl ? Min(_rto * 8, _o.Msl * 2) : _o.Msl * 2);

    private bool Acceptable(TcpSegment seg)
    {
        int len = seg.SequenceLength, wnd = ReceiveWindow;
        if (len == 0) return wnd == 0 ? seg.Seq == _rcvNxt : InWindow(seg.Seq, wnd);
        return wnd > 0 && (InWindow(seg.Seq, wnd) || InWindow(seg.Seq + (uint)len - 1, wnd));
    }

    private bool InWindow(uint s, int wnd) => Seq.Ge(s, _rcvNxt) && Seq.Lt(s, _rcvNxt + (uint)wnd);

    /// <summary>
    /// Stores data (starting at <paramref name="seq"/>) and FIN, trimmed to the window, then moves what
    /// is in order to the application if accepting. Says how the ACK for it should go.
    /// </summary>
    private AckDecision ProcessText(uint seq, ReadOnlySpan<byte> data, bool fin)
    {
        bool occupies = !data.IsEmpty || fin;
        if (_peerFinReceived)
            return occupies ? AckDecision.Now : AckDecision.None; // a retransmission
        uint before = _rcvNxt;
        Store(seq, data, fin);
        if (_accepting) Drain();
        if (_rcvNxt != before)
            // New data: hold the ACK for a response only while the application can still answer, and
            // ACK at least every second full-sized segment (RFC 1122 §4.2.3.2) so a long request keeps flowing.
            return _state is TcpState.Established or TcpState.CloseWait && _o.ResponseHoldTime > TimeSpan.Zero
                   && (_peerFinReceived || (int)(_rcvNxt - _lastAckSent) < 2 * _sendMss)
                ? StartHold() : AckDecision.Now;
        if (!occupies || !_accepting) return AckDecision.None;
        return AckDecision.Now; // duplicate or out of order: ACK at once (RFC 1122 §4.2.2.21)
    }

    private AckDecision StartHold()
    {
        _ackDeadline ??= _now + _o.ResponseHoldTime;
        return AckDecision.Hold;
    }

    private void Store(uint seq, ReadOnlySpan<byte> data, bool fin)
    {
        uint end = seq + (uint)data.Length;
        uint windowEnd = _rcvNxt + (uint)ReceiveWindow;
        if (Seq.Lt(seq, _rcvNxt))
        {
            uint skip = _rcvNxt - seq;
            data = skip >= (uint)data.Length ? default : data[(int)skip..];
            seq = _rcvNxt;
        }
        if (!data.IsEmpty)
        {
            int room = (int)(windowEnd - seq);
            if (room <= 0) { data = default; fin = false; }
            else if (data.Length > room) { data = data[..room]; fin = false; }
        }
        if (!data.IsEmpty)
        {
            int size = _o.ReceiveBufferSize;
            _ring ??= new byte[size];
            _ringHave ??= new ulong[(size + 63) / 64];
            uint rel = seq - (_irs + 1);
            for (int i = 0; i < data.Length; i++)
            {
                int idx = (int)((rel + (uint)i) % (uint)size);
                _ring[idx] = data[i];
                _ringHave[idx >> 6] |= 1UL << (idx & 63);
            }
        }
        if (fin && Seq.Ge(end, _rcvNxt)) _peerFinSeq = end;
    }

    private void Drain()
    {
        if (_ring is not null && _ringHave is not null)
        {
            int size = _ring.Length;
            while (true)
            {
                int start = (int)((_rcvNxt - (_irs + 1)) % (uint)size);
                int idx = start;
                while (idx < size && (_ringHave[idx >> 6] & (1UL << (idx & 63))) != 0)
                {
                    _ringHave[idx >> 6] &= ~(1UL << (idx & 63));
                    idx++;
                }
                if (idx == start) break;
                _rcvQueue.Append(_ring.AsSpan(start, idx - start));
                _rcvNxt += (uint)(idx - start);
                if (idx < size) break;
            }
        }
        if (!_peerFinReceived && _peerFinSeq is { } f && _rcvNxt == f)
        {
            _rcvNxt++;
            _peerFinReceived = true;
            OnPeerFin();
        }
    }

    private void Drop() => Counters.Dropped++;
}
