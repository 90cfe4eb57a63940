using System.Net;
using PacketDotNet;
using SharpPcap;
using SharpPcap.LibPcap;

namespace LatencySmtp.Testbed.Analysis;

/// <summary>
/// Reads a pcap/pcapng file and reports every TCP connection that starts with a SYN: segment and byte
/// counts per direction, the handshake RTT, the round trips the client waited through and the time to the
/// accepting reply (see <see cref="TransactionTrace"/> for the exact definitions).
/// </summary>
public static class TraceAnalyzer
{
    /// <summary>Per-direction reassembly bound; past it the dialogue is followed no further.</summary>
    public const long MaxStreamBytes = 64L * 1024 * 1024;

    /// <summary>Analyses <paramref name="pcapPath"/>; connections ordered by their first SYN.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">libpcap cannot open it as a capture file.</exception>
    public static IReadOnlyList<TransactionTrace> Analyze(string pcapPath)
    {
        if (!File.Exists(pcapPath)) throw new FileNotFoundException("capture file not found", pcapPath);
        return Analyze(ReadSegments(pcapPath));
    }

    internal static IEnumerable<TcpSegmentRecord> ReadSegments(string pcapPath)
    {
        using var reader = new CaptureFileReaderDevice(pcapPath);
        try
        {
            // libpcap scales microsecond files up, so one code path keeps whatever precision the file has.
            reader.Open(new DeviceConfiguration { TimestampResolution = TimestampResolution.Nanosecond });
        }
        catch (PcapException e)
        {
            throw new InvalidDataException($"{pcapPath} is not a capture file libpcap can read: {e.Message}", e);
        }
        var linkLayer = reader.LinkType;
        for (var index = 0; ; index++)
        {
            // A file cut mid-record (capture killed) ends with an error status: keep what came before.
            if (reader.GetNextPacket(out var packet) != GetPacketStatus.PacketRead) yield break;
            var segment = TcpSegmentRecord.TryParse(linkLayer, packet.Data.ToArray(), index, packet.Header.Timeval.Value);
            if (segment is not null) yield return segment;
        }
    }

    internal static IReadOnlyList<TransactionTrace> Analyze(IEnumerable<TcpSegmentRecord> segments)
    {
        var flows = new List<FlowState>();
        foreach (var (flow, segment, fromClient) in Assign(segments))
        {
            if (flow == flows.Count) flows.Add(new FlowState(segment));
            flows[flow].Add(segment, fromClient);
        }
        return flows.Select(f => f.Finish()).OrderBy(t => t.FirstSyn).ToList();
    }

    /// <summary>
    /// Assigns segments to connections: each connection is numbered 0, 1, … in the order of its opening SYN
    /// (the segment carrying a new number is that SYN); segments of no connection opened in the trace are left out.
    /// </summary>
    internal static IEnumerable<(int Flow, TcpSegmentRecord Segment, bool FromClient)> Assign(IEnumerable<TcpSegmentRecord> segments)
    {
        var current = new Dictionary<(IPAddress, ushort, IPAddress, ushort), (int Flow, uint ClientIsn)>();
        var count = 0;
        foreach (var segment in segments)
        {
            var forward = (segment.Source, segment.SourcePort, segment.Destination, segment.DestinationPort);
            var backward = (segment.Destination, segment.DestinationPort, segment.Source, segment.SourcePort);
            if (segment.Syn && !segment.AckFlag)
            {
                // A SYN with a new ISN opens a new connection (port reuse); the same ISN is a retransmission.
                if (!current.TryGetValue(forward, out var existing) || existing.ClientIsn != segment.Seq)
                {
                    current.Remove(backward);
                    current[forward] = (count++, segment.Seq);
                }
            }
            if (current.TryGetValue(forward, out var asClient)) yield return (asClient.Flow, segment, true);
            else if (current.TryGetValue(backward, out var asServer)) yield return (asServer.Flow, segment, false);
        }
    }

    /// <summary>The capture time of the file's first record (of any kind); null for an empty file.</summary>
    internal static decimal? CaptureStart(string pcapPath)
    {
        using var reader = new CaptureFileReaderDevice(pcapPath);
        try
        {
            reader.Open(new DeviceConfiguration { TimestampResolution = TimestampResolution.Nanosecond });
        }
        catch (PcapException e)
        {
            throw new InvalidDataException($"{pcapPath} is not a capture file libpcap can read: {e.Message}", e);
        }
        return reader.GetNextPacket(out var packet) == GetPacketStatus.PacketRead ? packet.Header.Timeval.Value : null;
    }

    /// <summary>Offset of the segment's first payload octet in its direction's stream (ISN + 1 is offset 0); a SYN's data starts after the SYN's sequence number.</summary>
    internal static long StreamOffset(TcpSegmentRecord s, uint isn) =>
        (int)(s.Seq + (s.Syn ? 1u : 0u) - (isn + 1u));

    internal static DateTime ToDateTime(decimal unixSeconds) =>
        DateTime.UnixEpoch.AddTicks((long)(unixSeconds * TimeSpan.TicksPerSecond));

    private sealed class FlowState(TcpSegmentRecord syn)
    {
        private readonly FlowKey _key = new(syn.Source, syn.SourcePort, syn.Destination, syn.DestinationPort);
        private readonly decimal _firstSynTime = syn.Time;
        private readonly StreamReassembler _clientStream = new(MaxStreamBytes);
        private readonly StreamReassembler _serverStream = new(MaxStreamBytes);
        private readonly List<Event> _events = [];
        private decimal _lastSynTime = syn.Time;
        private decimal? _synAckTime;
        private uint _serverIsn;
        private bool _handshakeAckSeen;
        private int _segmentsClient, _segmentsServer;
        private long _bytesClient, _bytesServer;
        private int _synDataLength;
        private bool _synHadFin, _synAckAcceptedSynData;
        private TcpOptionKinds _synOptions;

        public uint ClientIsn { get; } = syn.Seq;

        private readonly record struct Event(int Index, decimal Time, bool FromClient, bool Trigger, bool News);

        public void Add(TcpSegmentRecord s, bool fromClient)
        {
            if (fromClient)
            {
                _segmentsClient++;
                _bytesClient += s.PayloadLength;
                var trigger = false;
                if (s.Syn && !s.AckFlag)
                {
                    if (_synAckTime is null) _lastSynTime = s.Time;
                    _synDataLength = Math.Max(_synDataLength, s.PayloadLength);
                    _synHadFin |= s.Fin;
                    _synOptions |= s.Options;
                    trigger = true;
                }
                else if (s.AckFlag && _synAckTime is not null && !_handshakeAckSeen)
                {
                    // The server needs this ACK unless its SYN-ACK already accepted the SYN's data (TFO with a
                    // valid cookie, T/TCP passing the TAO test): then it answers without waiting for it.
                    _handshakeAckSeen = true;
                    trigger = !_synAckAcceptedSynData;
                }
                trigger |= _clientStream.Add(StreamOffset(s, ClientIsn), s.PayloadLength, s.Payload, s.Index, s.Time);
                _events.Add(new Event(s.Index, s.Time, true, trigger, false));
            }
            else
            {
                _segmentsServer++;
                _bytesServer += s.PayloadLength;
                var news = false;
                if (s.Syn && s.AckFlag && _synAckTime is null)
                {
                    _synAckTime = s.Time;
                    _serverIsn = s.Seq;
                    _synAckAcceptedSynData = _synDataLength > 0 && (int)(s.Ack - (ClientIsn + 1)) >= _synDataLength;
                    news = true;
                }
                if (_synAckTime is not null)
                    news |= _serverStream.Add(StreamOffset(s, _serverIsn), s.PayloadLength, s.Payload, s.Index, s.Time);
                _events.Add(new Event(s.Index, s.Time, false, false, news));
            }
        }

        public TransactionTrace Finish()
        {
            var handshakeRtt = _synAckTime is { } synAck ? (double)((synAck - _lastSynTime) * 1000m) : double.NaN;
            var dialogue = SmtpDialogue.Follow(_clientStream.Contiguous, _serverStream.Contiguous);

            int? decidingIndex = null;
            double? synToAccept = null;
            if (dialogue.DecidingReplyIndex >= 0 && dialogue.DecidingReplyIndex < dialogue.Replies.Count)
            {
                var reply = dialogue.Replies[dialogue.DecidingReplyIndex];
                var (index, time) = _serverStream.DeliveryOf(reply.End - 1);
                decidingIndex = index;
                if (reply.Code is >= 200 and < 300) synToAccept = (double)((time - _firstSynTime) * 1000m);
            }

            return new TransactionTrace(_key, ToDateTime(_firstSynTime), handshakeRtt,
                _segmentsClient, _segmentsServer, _bytesClient, _bytesServer,
                CountClientWaits(handshakeRtt, decidingIndex), synToAccept, GuessVariant(dialogue));
        }

        /// <summary>Implements the flight rule documented on <see cref="TransactionTrace"/>.</summary>
        private int CountClientWaits(double handshakeRttMs, int? decidingIndex)
        {
            var threshold = double.IsNaN(handshakeRttMs) ? 0m : (decimal)handshakeRttMs / 2000m;
            var pending = new Queue<decimal>();   // trigger times not yet answered, oldest first
            var flights = 0;
            foreach (var e in _events)
            {
                if (decidingIndex is { } last && e.Index > last) break;
                if (e.FromClient)
                {
                    if (e.Trigger) pending.Enqueue(e.Time);
                }
                else if (e.News && pending.TryPeek(out var oldest) && e.Time - oldest >= threshold)
                {
                    flights++;
                    // This flight answers every trigger at least half an RTT old; younger ones await a later flight.
                    while (pending.TryPeek(out var s) && e.Time - s >= threshold) pending.Dequeue();
                }
            }
            return flights;
        }

        private string? GuessVariant(SmtpDialogue dialogue)
        {
            if (dialogue.Units.Count == 0) return null;
            if (dialogue.Greetingless)
            {
                // RFC 1644 puts FIN (and CC options) into the SYN; kernel TFO (RFC 7413) never does.
                if (_synHadFin || _synOptions.HasFlag(TcpOptionKinds.ConnectionCount))
                    return _synOptions.HasFlag(TcpOptionKinds.FastOpen) ? "ttcp-cookie" : "ttcp";
                if (_synDataLength > 0 || _synOptions.HasFlag(TcpOptionKinds.FastOpen)) return "tfo";
                return "early-pipe";
            }
            // Classic family: an SMTP opening and at least the server's first reply, or this is not SMTP.
            if (dialogue.Units[0].Verb is not ("EHLO" or "HELO" or "LHLO") || dialogue.Replies.Count == 0) return null;
            // Was any unit sent before the reply to the one before it (or the greeting) arrived?
            var sentEarly = new List<bool>(dialogue.Units.Count);
            for (var i = 0; i < dialogue.Units.Count; i++)
            {
                var previousReply = dialogue.Units[i].ReplyIndex - 1;      // greeting for the first command
                if (previousReply >= dialogue.Replies.Count) { sentEarly.Add(true); continue; }
                var unitSent = _clientStream.DeliveryOf(dialogue.Units[i].End - 1).Index;
                var replyArrived = _serverStream.DeliveryOf(dialogue.Replies[previousReply].End - 1).Index;
                sentEarly.Add(unitSent < replyArrived);
            }
            if (sentEarly[0]) return "early-pipe";                         // did not wait for the 220 (cf. PIPE_CONNECT)
            return sentEarly.Skip(1).Any(early => early) ? "pipelined" : "classic";
        }
    }
}
