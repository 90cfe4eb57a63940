namespace LatencySmtp.Tcp;

/// <summary>Per-connection counters for experiments and tests.</summary>
public sealed class TcbCounters
{
    public long SegmentsSent { get; internal set; }
    /// <summary>Payload bytes sent, retransmissions included.</summary>
    public long BytesSent { get; internal set; }
    public long SegmentsReceived { get; internal set; }
    public long BytesReceived { get; internal set; }
    /// <summary>Segments sent again (timeout or answer to a duplicate SYN).</summary>
    public long Retransmissions { get; internal set; }
    /// <summary>Received segments discarded: unacceptable, wrong CC, bad ACK, ...</summary>
    public long Dropped { get; internal set; }

    public override string ToString() =>
        $"sent {SegmentsSent} seg/{BytesSent} B, received {SegmentsReceived} seg/{BytesReceived} B, " +
        $"retransmitted {Retransmissions}, dropped {Dropped}";
}
