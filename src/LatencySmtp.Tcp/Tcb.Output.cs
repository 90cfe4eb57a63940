namespace LatencySmtp.Tcp;

// Send side: sequence space, segment building, retransmission timer (RFC 793 §3.7, RFC 6298).
public sealed partial class Tcb
{
    /// <summary>RFC 1122 §4.2.2.6: send MSS when the peer's SYN has no MSS option.</summary>
    public const ushort DefaultMss = 536;

    private readonly uint _iss;
    private uint _sndUna, _sndNxt, _sndMax;
    private uint _sndBufSeq;                       // sequence number of _sndBuf[0]
    private readonly ByteBuffer _sndBuf = new();   // unacknowledged + unsent data
    private bool _synAcked, _finQueued, _finAcked;
    private int _sndWnd;
    private bool _sndWndKnown;
    private int _sendMss;
    private int _cwnd;                             // in segments

    private byte[]? _cookieOption;                 // ttcp-cookie on our SYN (client: cookie or request) or SYN-ACK (server: a fresh one)
    private bool _useCC, _sentCCNew;
    private uint _sndCC;
    private uint? _rcvCC;

    private TimeSpan? _rtxDeadline, _ackDeadline, _timeWaitDeadline;
    private TimeSpan _idleDeadline;
    private uint _lastAckSent;
    private TimeSpan _rto;
    private TimeSpan? _srtt;
    private TimeSpan _rttvar;
    private int _retransmits;
    private bool _probing;                          // the segment in flight is a zero-window probe (RFC 1122 §4.2.2.17)
    private bool _rttTiming;
    private uint _rttSeq;
    private TimeSpan _rttStart;

    private uint FinSeq => _sndBufSeq + (uint)_sndBuf.Count;

    /// <summary>
    /// Sends what the windows allow. While an ACK is held for the application's response
    /// (<see cref="_ackDeadline"/>), output waits unless a FIN is queued, a full segment is ready,
    /// or <paramref name="forceAck"/> (hold expired, duplicate or out-of-order data, a SYN to acknowledge).
    /// </summary>
    private void Flush(bool forceAck)
    {
        if (_state == TcpState.Closed) return;
        bool holding = _ackDeadline is not null && !forceAck;
        bool sent = false;
        if (!holding || _finQueued || UnsentBytes >= MaxPayload(syn: false))
            sent = SendSegments(int.MaxValue);
        if (!sent && forceAck && _irsKnown)
        {
            Transmit(NewSegment(_sndNxt, TcpFlags.Ack, OptionsFor(syn: false), default), pure: true);
            sent = true;
        }
        if (sent && _irsKnown) _ackDeadline = null;
    }

    private int UnsentBytes
    {
        get
        {
            uint dataStart = !_synAcked && _sndNxt == _iss ? _iss + 1 : _sndNxt;
            return Math.Max(0, _sndBuf.Count - (int)(dataStart - _sndBufSeq));
        }
    }

    private bool SendSegments(int limit)
    {
        int count = 0;
        while (count < limit && BuildSegment(_sndNxt) is { } segment)
        {
            Transmit(segment, pure: false);
            count++;
        }
        return count > 0;
    }

    private TcpSegment? BuildSegment(uint s)
    {
        bool syn = !_synAcked && s == _iss;
        uint dataStart = syn ? s + 1 : s;
        int offset = (int)(dataStart - _sndBufSeq);
        if (offset < 0) return null;
        int available = Math.Max(0, _sndBuf.Count - offset);

        int window = _cwnd * _sendMss;
        if (_sndWndKnown) window = Math.Min(window, _sndWnd);
        int flight = (int)(s - _sndUna);
        int room = window - flight;
        if (room <= 0 && flight == 0 && available > 0)
        {
            room = 1; // zero-window probe, repeated by the retransmission timer
            _probing = true;
        }

        var options = OptionsFor(syn);
        int maxPayload = _sendMss - options.EncodedLength;
        int n = Math.Min(available, Math.Min(maxPayload, Math.Max(0, room)));
        // Sender SWS avoidance (RFC 1122 §4.2.3.4): no runt segment while data waits for window, unless nothing is in flight.
        if (n < available && n < maxPayload && flight > 0) n = 0;
        bool fin = _finQueued && dataStart + (uint)n == FinSeq;
        if (!syn && n == 0 && !fin) return null;

        var flags = (syn ? TcpFlags.Syn : 0) | (fin ? TcpFlags.Fin : 0) | (n > 0 ? TcpFlags.Psh : 0);
        if (_irsKnown) flags |= TcpFlags.Ack;
        var payload = n > 0 ? _sndBuf.Slice(offset, n).ToArray() : ReadOnlyMemory<byte>.Empty;
        return NewSegment(s, flags, options, payload);
    }

    private TcpSegment NewSegment(uint seq, TcpFlags flags, TcpOptions options, ReadOnlyMemory<byte> payload) =>
        new(Local.Port, Remote.Port, seq, _irsKnown ? _rcvNxt : 0, flags, (ushort)ReceiveWindow, options, payload);

    private int MaxPayload(bool syn) => _sendMss - OptionsFor(syn).EncodedLength;

    private TcpOptions? _synOptions, _dataOptions;

    /// <summary>RFC 1644 §3.1: CC (or CC.NEW) on the client's SYN, CC + CC.ECHO on the SYN-ACK, CC on every other segment.</summary>
    private TcpOptions OptionsFor(bool syn)
    {
        if (syn)
            return _synOptions ??= (!_useCC ? new TcpOptions { Mss = _o.Mss }
                : IsClient ? (_sentCCNew ? new TcpOptions { Mss = _o.Mss, CCNew = _sndCC } : new TcpOptions { Mss = _o.Mss, CC = _sndCC })
                : new TcpOptions { Mss = _o.Mss, CC = _sndCC, CCEcho = _rcvCC }) with { FastOpenCookie = _cookieOption };
        if (!_useCC) return TcpOptions.None;
        return _dataOptions ??= new TcpOptions { CC = _sndCC };
    }

    private void InvalidateOptions() { _synOptions = null; _dataOptions = null; }

    private void Transmit(TcpSegment segment, bool pure)
    {
        _outgoing.Enqueue(segment);
        if (segment.Has(TcpFlags.Ack)) _lastAckSent = segment.Ack;
        Counters.SegmentsSent++;
        Counters.BytesSent += segment.Payload.Length;
        if (pure) return;
        uint s = segment.Seq;
        bool retransmission = Seq.Lt(s, _sndMax);
        if (retransmission) Counters.Retransmissions++;
        _sndNxt = s + (uint)segment.SequenceLength;
        _sndMax = Seq.Max(_sndMax, _sndNxt);
        if (!retransmission && !_rttTiming)
        {
            _rttTiming = true;
            _rttSeq = _sndNxt;
            _rttStart = _now;
        }
        _rtxDeadline ??= _now + _rto;
    }

    /// <summary>Longest interval between zero-window probes: they back off like retransmissions, but no further.</summary>
    public static readonly TimeSpan MaxProbeInterval = TimeSpan.FromSeconds(60);

    /// <summary>
    /// RFC 6298 §5.4–5.6: back off, retransmit the earliest unacknowledged segment, restart the timer. The limit
    /// counts timeouts without an answer; an answered zero-window probe starts the count again (<see cref="OnProbeAnswered"/>).
    /// </summary>
    private void OnRetransmissionTimeout()
    {
        if (_retransmits >= _o.MaxRetransmissions)
        {
            Terminate("retransmission limit reached");
            return;
        }
        _retransmits++;
        _rto = Min(_rto * 2, _probing ? Min(_o.MaxRto, MaxProbeInterval) : _o.MaxRto);
        _cwnd = 1;
        _rttTiming = false; // Karn: no RTT sample from a retransmitted segment
        _sndNxt = _sndUna;
        _rtxDeadline = null;
        if (SendSegments(1) && _irsKnown) _ackDeadline = null;
        _rtxDeadline ??= _now + _rto;
    }

    /// <summary>Processes an acceptable ACK that covers new sequence space (RFC 793 §3.9, RFC 6298 §5.3).</summary>
    private void AdvanceUna(uint ack)
    {
        if (_rttTiming && Seq.Ge(ack, _rttSeq))
        {
            SampleRtt(_now - _rttStart);
            _rttTiming = false;
        }
        uint advanced = ack - _sndUna;
        if (!_synAcked) { _synAcked = true; advanced--; }
        int data = (int)Math.Min(advanced, (uint)_sndBuf.Count);
        _sndBuf.Discard(data);
        _sndBufSeq += (uint)data;
        advanced -= (uint)data;
        if (advanced > 0 && _finQueued) _finAcked = true;
        _sndUna = ack;
        if (Seq.Lt(_sndNxt, _sndUna)) _sndNxt = _sndUna;
        _retransmits = 0;
        _probing = false;
        _cwnd = Math.Min(_cwnd + 1, 1 + _o.ReceiveBufferSize / Math.Max(1, _sendMss));
        _rtxDeadline = _sndUna == _sndMax ? null : _now + _rto;
    }

    /// <summary>
    /// RFC 1122 §4.2.2.17, RFC 9293 §3.8.6.1: the receiver may keep its window closed indefinitely as long as it
    /// acknowledges the probes. An ACK of nothing new, even with window 0, answers the probe: the connection stays.
    /// </summary>
    private void OnProbeAnswered(int window)
    {
        if (!_probing) return;
        _retransmits = 0;
        if (window > 0) _probing = false;
    }

    /// <summary>RFC 6298 §2.2–2.4 with a 1 ms clock granularity.</summary>
    private void SampleRtt(TimeSpan r)
    {
        if (_srtt is not { } srtt)
        {
            _srtt = r;
            _rttvar = r / 2;
        }
        else
        {
            _rttvar = (_rttvar * 3 + (srtt - r).Duration()) / 4;
            _srtt = (srtt * 7 + r) / 8;
        }
        var rto = _srtt.Value + Max(TimeSpan.FromMilliseconds(1), _rttvar * 4);
        _rto = Min(Max(rto, _o.MinRto), _o.MaxRto);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    public void OnTimer(TimeSpan now)
    {
        if (now > _now) _now = now;
        if (_state == TcpState.Closed) return;
        if (_timeWaitDeadline is { } tw && tw <= _now)
        {
            Terminate(null);
            return;
        }
        if (_idleDeadline <= _now && _state != TcpState.TimeWait)
        {
            Terminate("connection timed out");
            return;
        }
        if (_rtxDeadline is { } rd && rd <= _now)
        {
            OnRetransmissionTimeout();
            if (_state == TcpState.Closed) return;
        }
        if (_ackDeadline is { } ad && ad <= _now)
            Flush(forceAck: true);
    }
}
