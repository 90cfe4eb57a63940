using System.Globalization;
using System.Text;

namespace LatencySmtp.IntegrationTests.Capture;

/// <summary>
/// Per-connection figures computed from tshark's per-frame fields alone (frame.time_epoch, tcp.stream, tcp.flags,
/// tcp.seq_raw/ack_raw, tcp.len, tcp.payload), with rules of its own, so that a test can hold the PacketDotNet
/// analyzer against them. Written for clean captures (no loss, no reordering), where these rules are exact:
/// <list type="bullet">
/// <item>client = sender of the stream's first SYN without ACK; streams without one are left out;</item>
/// <item>handshake RTT = the last SYN before the first SYN-ACK to that SYN-ACK;</item>
/// <item>the accepting segment = the server segment holding the line end of the reply to the end of data or to
/// BDAT LAST, found by counting final reply lines ("ddd " / "ddd" CRLF): greeting-less (first client line "XID"):
/// XID, MAIL, n × RCPT, BDAT → reply n + 2 (0-based); classic family: 220, EHLO, MAIL, n × RCPT, then BDAT LAST
/// → n + 3, or DATA (354) and end of data → n + 4; n = the RCPT lines the client sent;</item>
/// <item>client waits = server "news" (the first SYN-ACK, or a segment with payload beyond any earlier one) that
/// directly follows, in capture order, a client "request" with no news in between, counted up to the accepting
/// segment. Requests are the SYN, client payload beyond any earlier one, and the client's first ACK of the SYN-ACK
/// when the SYN-ACK did not acknowledge data sent with the SYN (the server cannot answer before it).</item>
/// </list>
/// </summary>
internal static class TsharkFlows
{
    public sealed record Flow(int Stream, ushort ClientPort, ushort ServerPort, decimal FirstSyn, int SegmentsToServer, int SegmentsToClient,
        long BytesToServer, long BytesToClient, decimal? HandshakeRttMs, decimal? SynToAcceptMs, int ClientWaits, bool Greetingless);

    private sealed record Frame(decimal Time, int Stream, ushort Source, ushort Destination, int Flags, uint Seq, uint Ack, int Length, byte[] Payload)
    {
        public bool Syn => (Flags & 0x02) != 0;
        public bool AckFlag => (Flags & 0x10) != 0;
    }

    /// <summary>The connections of <paramref name="pcap"/> ordered by first SYN.</summary>
    public static IReadOnlyList<Flow> Read(string pcap)
    {
        var tshark = BoundedProcess.Run("tshark", ["-r", pcap, "-T", "fields", "-E", "separator=|", "-E", "occurrence=f",
            "-e", "frame.time_epoch", "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.flags",
            "-e", "tcp.seq_raw", "-e", "tcp.ack_raw", "-e", "tcp.len", "-e", "tcp.payload"], TimeSpan.FromSeconds(60));
        if (tshark.ExitCode != 0) throw new InvalidOperationException($"tshark exited {tshark.ExitCode}: {tshark.StandardError}");
        var frames = new List<Frame>();
        foreach (var line in tshark.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('|');
            if (f[1].Length == 0) continue;                                           // not TCP
            var length = int.Parse(f[7], CultureInfo.InvariantCulture);
            var payload = Convert.FromHexString(f[8].Replace(":", "", StringComparison.Ordinal));
            if (payload.Length != length) throw new InvalidDataException($"tshark payload of {payload.Length} octets for tcp.len {length}: {line[..40]}");
            frames.Add(new Frame(decimal.Parse(f[0], CultureInfo.InvariantCulture), int.Parse(f[1], CultureInfo.InvariantCulture),
                ushort.Parse(f[2], CultureInfo.InvariantCulture), ushort.Parse(f[3], CultureInfo.InvariantCulture),
                Convert.ToInt32(f[4], 16), uint.Parse(f[5], CultureInfo.InvariantCulture), uint.Parse(f[6], CultureInfo.InvariantCulture), length, payload));
        }
        return frames.GroupBy(f => f.Stream)
            .Select(g => Compute(g.Key, g.ToList()))
            .OfType<Flow>()
            .OrderBy(f => f.FirstSyn)
            .ToList();
    }

    private static Flow? Compute(int stream, List<Frame> frames)
    {
        var syn = frames.FirstOrDefault(f => f.Syn && !f.AckFlag);
        if (syn is null) return null;
        var clientPort = syn.Source;
        bool FromClient(Frame f) => f.Source == clientPort;
        frames = frames.SkipWhile(f => f != syn).ToList();

        var toServer = frames.Where(FromClient).ToList();
        var toClient = frames.Where(f => !FromClient(f)).ToList();
        var synAck = toClient.FirstOrDefault(f => f.Syn && f.AckFlag);
        decimal? handshake = synAck is null ? null : (synAck.Time - frames.Last(f => f.Syn && !f.AckFlag && f.Time <= synAck.Time).Time) * 1000m;

        // Both byte streams, by offset from ISN + 1 (a SYN's data starts at 0).
        var clientStream = Stream(toServer, syn.Seq);
        var serverStream = synAck is null ? [] : Stream(toClient, synAck.Seq);
        var clientLines = Lines(clientStream);
        var greetingless = clientLines.FirstOrDefault()?.StartsWith("XID ", StringComparison.Ordinal) == true;
        var commands = clientLines.TakeWhile(l => !l.StartsWith("DATA", StringComparison.OrdinalIgnoreCase) && !l.StartsWith("BDAT", StringComparison.OrdinalIgnoreCase)).ToList();
        var recipients = commands.Count(l => l.StartsWith("RCPT TO:", StringComparison.OrdinalIgnoreCase));
        var bdat = clientLines.Skip(commands.Count).FirstOrDefault()?.StartsWith("BDAT", StringComparison.OrdinalIgnoreCase) == true;
        var decidingIndex = greetingless ? recipients + 2 : bdat ? recipients + 3 : recipients + 4;

        // The final reply lines of the server stream with the offset of their LF.
        Frame? accepting = null;
        string? decidingCode = null;
        var finalLines = 0;
        for (var start = 0; start < serverStream.Length;)
        {
            var lf = Array.IndexOf(serverStream, (byte)'\n', start);
            if (lf < 0) break;
            var line = Encoding.ASCII.GetString(serverStream, start, lf - start).TrimEnd('\r');
            if (line.Length == 3 || line.Length > 3 && line[3] == ' ')
            {
                if (finalLines++ == decidingIndex)
                {
                    decidingCode = line[..3];
                    accepting = toClient.First(f => Offset(f, synAck!.Seq) <= lf && lf < Offset(f, synAck.Seq) + f.Length);
                    break;
                }
            }
            start = lf + 1;
        }
        decimal? accept = accepting is not null && decidingCode![0] == '2' ? (accepting.Time - syn.Time) * 1000m : null;

        // Client waits: news directly after an unanswered request.
        var synAckTookData = synAck is not null && syn.Length > 0 && synAck.Ack - (syn.Seq + 1) >= (uint)syn.Length;
        var waits = 0;
        var requestPending = false;
        bool seenSynAck = false, handshakeAcked = false;
        long clientHigh = 0, serverHigh = 0;
        foreach (var f in frames)
        {
            if (FromClient(f))
            {
                var request = f.Syn && !f.AckFlag;
                if (!f.Syn && f.AckFlag && seenSynAck && !handshakeAcked)
                {
                    handshakeAcked = true;
                    request |= !synAckTookData;
                }
                var end = Offset(f, syn.Seq) + f.Length;
                if (f.Length > 0 && end > clientHigh) { clientHigh = end; request = true; }
                requestPending |= request;
            }
            else
            {
                var news = f.Syn && f.AckFlag && !seenSynAck;
                seenSynAck |= news;
                if (synAck is not null && f.Length > 0)
                {
                    var end = Offset(f, synAck.Seq) + f.Length;
                    if (end > serverHigh) { serverHigh = end; news = true; }
                }
                if (news && requestPending) waits++;
                if (news) requestPending = false;
            }
            if (f == accepting) break;
        }

        return new Flow(stream, clientPort, syn.Destination, syn.Time, toServer.Count, toClient.Count,
            toServer.Sum(f => (long)f.Length), toClient.Sum(f => (long)f.Length), handshake, accept, waits, greetingless);
    }

    private static long Offset(Frame f, uint isn) => (long)unchecked((int)(f.Seq + (f.Syn ? 1u : 0u) - (isn + 1u)));

    /// <summary>The bytes of one direction placed at their offsets (a clean capture has no holes).</summary>
    private static byte[] Stream(List<Frame> frames, uint isn)
    {
        var length = frames.Where(f => f.Length > 0).Select(f => Offset(f, isn) + f.Length).DefaultIfEmpty(0).Max();
        var bytes = new byte[length];
        foreach (var f in frames.Where(f => f.Length > 0 && Offset(f, isn) >= 0)) f.Payload.CopyTo(bytes, Offset(f, isn));
        return bytes;
    }

    private static List<string> Lines(byte[] stream) =>
        Encoding.ASCII.GetString(stream).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
}
