using LatencySmtp.Tcp;

namespace LatencySmtp.Tests.Tcp;

/// <summary>
/// A point-to-point link with virtual time between client Tcbs and a server <see cref="TtcpListener"/>:
/// one-way delay, seeded loss, duplication and reordering (extra delay), plus a per-packet drop filter
/// for targeted losses. Every segment crosses as IPv4 bytes (emit, then parse with checksum checks).
/// The server runs a "reply" application: once a request is complete (FIN seen) it reads it, sends
/// <see cref="Reply"/> of it and closes.
/// </summary>
internal sealed class InMemoryLink
{
    public const uint ClientAddress = 0x0A000001, ServerAddress = 0x0A000002;
    public const ushort ServerPort = 25;

    public enum Direction { ToServer, ToClient }

    public sealed record Packet(TimeSpan SentAt, Direction Direction, TcpSegment Segment, int Index);

    private readonly PriorityQueue<(Direction Dir, byte[] Bytes, TimeSpan SentAt, int Index), (TimeSpan, long)> _inFlight = new();
    private readonly Random _rng;
    private readonly Dictionary<ushort, Tcb> _clients = new();
    private readonly List<Tcb> _serverApp = new();
    private long _order;
    private int _packetIndex;
    private ushort _identification;

    public InMemoryLink(int seed = 1, TtcpOptions? options = null, TtcpOptions? serverOptions = null,
        uint clientIssBase = 1_000_000, uint serverIssBase = 5_000_000)
    {
        _rng = new Random(seed);
        uint clientIss = clientIssBase, serverIss = serverIssBase;
        ClientHost = new TtcpHost(options ?? new TtcpOptions(), ClientAddress, () => clientIss += 100_000);
        ServerHost = new TtcpHost(serverOptions ?? options ?? new TtcpOptions(), ServerAddress, () => serverIss += 100_000);
        Listener = new TtcpListener(ServerHost, ServerPort);
    }

    public TtcpHost ClientHost { get; }
    public TtcpHost ServerHost { get; }
    public TtcpListener Listener { get; }
    public TimeSpan Now { get; private set; }

    public TimeSpan OneWayDelay { get; set; } = TimeSpan.FromMilliseconds(50);
    public double Loss { get; set; }
    public double Duplication { get; set; }
    public double Reordering { get; set; }
    public TimeSpan ReorderDelay { get; set; } = TimeSpan.FromMilliseconds(30);

    /// <summary>Return true to lose that packet (after the random loss decision).</summary>
    public Func<Packet, bool>? DropFilter { get; set; }

    public Func<byte[], byte[]> Reply { get; set; } = request => [.. "250 "u8, .. request];

    /// <summary>Every packet put on the wire (lost or not), in send order.</summary>
    public List<Packet> Sent { get; } = new();

    /// <summary>Requests the server application received, in order.</summary>
    public List<byte[]> Deliveries { get; } = new();

    /// <summary>Server connections the application took, in order.</summary>
    public List<Tcb> Accepted { get; } = new();

    /// <summary>When each client first held the complete response (its peer's FIN).</summary>
    public Dictionary<Tcb, TimeSpan> ResponseTimes { get; } = new();

    /// <summary>When false, the test drives server connections itself (via <see cref="TtcpListener.TryAcceptNew"/>).</summary>
    public bool ServerApplication { get; set; } = true;

    public int BadPackets { get; private set; }

    private ushort _nextPort = 40000;

    public Tcb Connect(byte[] request, bool closeAfterRequest = true)
    {
        ushort port = _nextPort++;
        var tcb = Tcb.Connect(ClientHost, new TcpEndpoint(ClientAddress, port), new TcpEndpoint(ServerAddress, ServerPort),
            request, closeAfterRequest, Now);
        _clients[port] = tcb;
        return tcb;
    }

    /// <summary>Runs until <paramref name="until"/> holds, nothing is left to do, or virtual time passes <paramref name="limit"/>.</summary>
    public bool Run(Func<bool> until, TimeSpan limit, int maxSteps = 1_000_000)
    {
        for (int step = 0; step < maxSteps; step++)
        {
            Pump();
            if (until()) return true;
            TimeSpan? next = null;
            if (_inFlight.TryPeek(out _, out var key)) next = key.Item1;
            foreach (var c in _clients.Values)
                if (c.NextDeadline is { } d && (next is null || d < next)) next = d;
            if (Listener.NextDeadline is { } ld && (next is null || ld < next)) next = ld;
            if (next is not { } t || t > limit)
            {
                if (limit > Now) Now = limit; // nothing happens until the limit: time still passes
                return until();
            }
            if (t > Now) Now = t;
            while (_inFlight.TryPeek(out _, out var k) && k.Item1 <= Now)
            {
                var p = _inFlight.Dequeue();
                Deliver(p.Dir, p.Bytes);
                Pump();
            }
            foreach (var c in _clients.Values) c.OnTimer(Now);
            Listener.OnTimer(Now);
        }
        throw new InvalidOperationException("step limit");
    }

    public bool RunUntilQuiet(TimeSpan limit) => Run(() => false, limit);

    /// <summary>The server application becomes the greeting-less SMTP server, delivering through <paramref name="store"/>.</summary>
    public void ServeSmtp(LatencySmtp.Transport.Delivery.ExactlyOnceDelivery store) => Reply = request =>
    {
        var session = new LatencySmtp.Smtp.ServerSession(new LatencySmtp.Smtp.ServerOptions { HostName = "mx.example" }, LatencySmtp.Smtp.ServerMode.Greetingless);
        session.Start();
        session.Receive(request);
        session.ReceiveEnd();
        while (session.PendingDelivery is { } p) session.CompleteDelivery(store.Deliver(p));
        return session.TakeOutput();
    };

    /// <summary>
    /// Runs one transaction to its end so both hosts hold TAO entries (the next SYN passes the TAO test),
    /// then forgets what it sent, delivered and accepted. Returns this link.
    /// </summary>
    public InMemoryLink Prime()
    {
        var c = Connect("prime"u8.ToArray());
        Xunit.Assert.True(Run(() => c.IsTerminated, Now + TimeSpan.FromMinutes(20)));
        Xunit.Assert.Null(c.Error);
        Sent.Clear();
        Deliveries.Clear();
        Accepted.Clear();
        return this;
    }

    /// <summary>Moves queued output onto the wire and lets the server application act.</summary>
    private readonly Dictionary<Tcb, MemoryStream> _received = new(ReferenceEqualityComparer.Instance);

    public void Pump()
    {
        for (int round = 0; round < 100; round++)
        {
            bool any = false;
            foreach (var c in _clients.Values)
            {
                while (c.TryDequeueOutgoing(out var s)) { Transmit(Direction.ToServer, s); any = true; }
                if (c.PeerFinReceived && !ResponseTimes.ContainsKey(c)) ResponseTimes[c] = Now;
            }
            while (Listener.TryDequeueOutgoing(out _, out var rst)) { Transmit(Direction.ToClient, rst); any = true; }
            while (ServerApplication && Listener.TryAcceptNew() is { } accepted) { _serverApp.Add(accepted); Accepted.Add(accepted); }
            foreach (var app in _serverApp.ToArray())
            {
                if (app.IsTerminated && app.Available == 0) { _serverApp.Remove(app); _received.Remove(app); continue; }
                // Read as data arrives, as the real server does, so the receive window keeps opening.
                if (!_received.TryGetValue(app, out var sofar)) _received[app] = sofar = new MemoryStream();
                if (app.Available > 0)
                {
                    var chunk = new byte[app.Available];
                    sofar.Write(chunk, 0, app.Read(chunk));
                    any = true;
                }
                if (!app.PeerFinReceived) continue;
                var request = sofar.ToArray();
                _received.Remove(app);
                Deliveries.Add(request);
                _serverApp.Remove(app);
                if (app.IsTerminated) continue;
                app.Send(Reply(request));
                app.Close();
                any = true;
            }
            foreach (var s in Listener.Connections)
                while (s.TryDequeueOutgoing(out var seg)) { Transmit(Direction.ToClient, seg); any = true; }
            if (!any) return;
        }
    }

    private void Transmit(Direction dir, TcpSegment segment)
    {
        var (src, dst) = dir == Direction.ToServer ? (ClientAddress, ServerAddress) : (ServerAddress, ClientAddress);
        var bytes = new byte[Ipv4Packet.HeaderLength + segment.TotalLength];
        Ipv4Packet.EmitTcp(bytes, src, dst, segment, _identification++);
        var packet = new Packet(Now, dir, segment, _packetIndex++);
        Sent.Add(packet);
        bool lost = Loss > 0 && _rng.NextDouble() < Loss;
        if (DropFilter?.Invoke(packet) == true) lost = true;
        if (lost) return;
        int copies = Duplication > 0 && _rng.NextDouble() < Duplication ? 2 : 1;
        for (int i = 0; i < copies; i++)
        {
            var at = Now + OneWayDelay;
            if (Reordering > 0 && _rng.NextDouble() < Reordering)
                at += TimeSpan.FromTicks((long)(_rng.NextDouble() * ReorderDelay.Ticks));
            _inFlight.Enqueue((dir, bytes, Now, packet.Index), (at, _order++));
        }
    }

    private void Deliver(Direction dir, byte[] bytes)
    {
        if (!Ipv4Packet.TryParseTcp(bytes, out var src, out var dst, out var segment, out _)) { BadPackets++; return; }
        if (dir == Direction.ToServer)
        {
            Listener.OnSegment(src, dst, segment!, Now);
            return;
        }
        if (_clients.TryGetValue(segment!.DestinationPort, out var c) && !c.IsTerminated)
            c.OnSegment(segment, Now);
        else if (Tcb.ResetFor(segment) is { } rst)
            Transmit(Direction.ToServer, rst);
    }

    public static string Describe(IEnumerable<Packet> packets) =>
        string.Join("\n", packets.Select(p => $"{p.SentAt.TotalMilliseconds,8:0.###} ms {(p.Direction == Direction.ToServer ? "C>S" : "S>C")} {p.Segment}"));
}
