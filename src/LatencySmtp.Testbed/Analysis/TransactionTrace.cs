using System.Net;

namespace LatencySmtp.Testbed.Analysis;

/// <summary>A TCP connection as seen in a trace; the client is the sender of the first SYN.</summary>
public sealed record FlowKey(IPAddress Client, ushort ClientPort, IPAddress Server, ushort ServerPort)
{
    public override string ToString() => $"{Client}:{ClientPort} -> {Server}:{ServerPort}";
}

/// <summary>
/// One TCP connection that starts with a SYN, measured at the capture point.
/// </summary>
/// <param name="Flow">Client (SYN sender) and server endpoints.</param>
/// <param name="FirstSyn">Capture time (UTC) of the client's first SYN.</param>
/// <param name="HandshakeRttMs">From the last SYN (re)transmission before the first SYN-ACK to that SYN-ACK;
/// NaN when no SYN-ACK was seen. Taking the last SYN keeps a lost SYN's timeout out of the RTT.</param>
/// <param name="SegmentsClientToServer">Every TCP segment the client sent: SYN, pure ACKs, FIN, retransmissions.</param>
/// <param name="SegmentsServerToClient">Every TCP segment the server sent, likewise.</param>
/// <param name="PayloadBytesClientToServer">TCP payload octets the client sent, retransmissions included
/// (from the IP length fields, so a short snap length does not shrink them).</param>
/// <param name="PayloadBytesServerToClient">TCP payload octets the server sent, likewise.</param>
/// <param name="ClientWaits">
/// Round trips the client waited through until it held the deciding reply (see remarks).
/// </param>
/// <param name="SynToAcceptMs">First SYN to the server segment that completed the 2xx reply to the end of
/// data (DATA) or to BDAT LAST; null when no such reply was seen (rejected, cut, or not SMTP).</param>
/// <param name="VariantGuess">"classic", "pipelined", "early-pipe", "tfo", "ttcp", "ttcp-cookie", or null when
/// the dialogue could not be followed.</param>
/// <remarks>
/// <para><b>ClientWaits</b> counts <i>server flights</i> the client needed:</para>
/// <list type="number">
/// <item><i>Triggers</i> are client events the server can answer: the SYN, every client segment carrying
/// payload beyond the highest client sequence seen so far (new data; retransmissions are no triggers),
/// and the ACK that completes the handshake (the client's first ACK after the SYN-ACK), unless the SYN
/// carried data that the SYN-ACK acknowledged: then the server (TFO with a valid cookie, RFC 7413; T/TCP
/// passing the TAO test, RFC 1644) answers without waiting for that ACK.</item>
/// <item><i>Server news</i> are the first SYN-ACK and every server segment carrying payload beyond the
/// highest server sequence seen so far. Pure ACKs and retransmissions are no news.</item>
/// <item>News at time t <i>starts a flight</i> when an unanswered trigger happened at some s with
/// t - s &gt;= HandshakeRtt / 2 (0 without a handshake RTT): only then can it be the answer to something the
/// client did. The flight answers all triggers that old; younger ones stay unanswered and are answered by
/// a later flight. News without an unanswered trigger old enough belongs to the current flight (a reply
/// split over segments, a slow final 250, data right after the client's ACK).</item>
/// <item>ClientWaits = the flights started no later than the segment that completed the deciding reply (the
/// reply to the end of data or BDAT LAST, whatever its code); all flights of the connection when there is
/// no deciding reply.</item>
/// </list>
/// <para>So classic SMTP with n recipients gives n + 6 (SYN-ACK, 220, EHLO, MAIL, n x RCPT, 354, end of data),
/// RFC 2920 pipelining 4 or 5, the greeting-less request after a kernel handshake 2, TFO with a cookie 1,
/// and the single-segment T/TCP exchange 1 (the SYN-ACK carries the replies). Waits that no server data
/// ends (Nagle waiting for a pure ACK, a retransmission timeout) add time, not flights.</para>
/// </remarks>
public sealed record TransactionTrace(
    FlowKey Flow,
    DateTime FirstSyn,
    double HandshakeRttMs,
    int SegmentsClientToServer,
    int SegmentsServerToClient,
    long PayloadBytesClientToServer,
    long PayloadBytesServerToClient,
    int ClientWaits,
    double? SynToAcceptMs,
    string? VariantGuess);
