using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Experiments.Accuracy;

/// <summary>One round-trip sample: sequence number and the measured RTT (NaN when no answer came).</summary>
public readonly record struct RttSample(int Sequence, double RttMs);

/// <summary>
/// Round-trip probes between the testbed's namespaces, timed with CLOCK_MONOTONIC in this process.
/// Timestamps are taken in user space right around send and receive, so they include the probe's own
/// system-call and wake-up costs: the error they report is an upper bound on the emulator's.
/// </summary>
public static class Probes
{
    /// <summary>SCHED_FIFO priority of probe threads: below the delay line's (20), above everything a busy
    /// machine runs at normal priority, so a compiler next door does not sit inside a measured round trip.</summary>
    public const int RealtimePriority = 10;

    /// <summary>Makes the calling thread a real-time probe thread (best effort: false when denied).</summary>
    public static bool PrepareThread()
    {
        try { MonotonicClock.MinimizeTimerSlack(); } catch (IOException) { }
        return LinuxProcess.TrySetRealtimePriority(RealtimePriority);
    }

    /// <summary>
    /// ICMP echo (RFC 792) over a raw socket in <paramref name="clientNamespace"/>: <paramref name="count"/>
    /// requests every <paramref name="interval"/>, each matched by identifier and sequence number. A
    /// dedicated thread receives, so requests keep their spacing while replies are outstanding.
    /// </summary>
    public static IReadOnlyList<RttSample> IcmpEcho(string clientNamespace, IPAddress target, int count, TimeSpan interval, TimeSpan replyTimeout)
    {
        using var socket = NetNamespace.Run(clientNamespace, () => new Socket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp));
        socket.ReceiveTimeout = 100;
        ushort id = (ushort)(Environment.ProcessId ^ Random.Shared.Next(1 << 16));
        var sent = new long[count];
        var received = new long[count];
        var remote = new IPEndPoint(target, 0);
        using var done = new CancellationTokenSource();
        var receiver = new Thread(() =>
        {
            PrepareThread();
            var buffer = new byte[1500];
            int answered = 0;
            while (!done.IsCancellationRequested && answered < count)
            {
                int n;
                try
                {
                    n = socket.Receive(buffer);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
                {
                    continue;
                }
                long now = MonotonicClock.NowTicks;
                int ihl = (buffer[0] & 0x0f) * 4;
                if (n < ihl + 8 || buffer[ihl] != 0) continue;   // echo reply only (type 0)
                if (BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(ihl + 4)) != id) continue;
                int seq = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(ihl + 6));
                if (seq >= count || received[seq] != 0) continue;   // duplicates keep the first answer
                received[seq] = now;
                answered++;
            }
        }) { IsBackground = true, Name = "icmp-rx" };
        receiver.Start();

        var request = new byte[64];   // 8-byte header + 56 bytes, like ping(8)
        request[0] = 8;   // echo request
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), id);
        long start = MonotonicClock.NowTicks + MonotonicClock.TimeSpanToTicks(TimeSpan.FromMilliseconds(1));
        long step = MonotonicClock.TimeSpanToTicks(interval);
        for (int seq = 0; seq < count; seq++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), (ushort)seq);
            request[2] = request[3] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), InternetChecksum(request));
            MonotonicClock.SleepUntil(start + seq * step);
            sent[seq] = MonotonicClock.NowTicks;
            socket.SendTo(request, remote);
        }
        long deadline = MonotonicClock.NowTicks + MonotonicClock.TimeSpanToTicks(replyTimeout);
        while (receiver.IsAlive && MonotonicClock.NowTicks < deadline) receiver.Join(50);
        done.Cancel();
        receiver.Join(TimeSpan.FromSeconds(1));
        return Enumerable.Range(0, count)
            .Select(i => new RttSample(i, received[i] == 0 ? double.NaN : MonotonicClock.TicksToTimeSpan(received[i] - sent[i]).TotalMilliseconds))
            .ToList();
    }

    /// <summary>RFC 1071 one's-complement sum.</summary>
    public static ushort InternetChecksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if ((data.Length & 1) != 0) sum += (uint)data[^1] << 8;
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }

    /// <summary>
    /// TCP three-way handshakes (RFC 793 §3.4): connect() from <paramref name="clientNamespace"/> to a
    /// kernel listener in <paramref name="serverNamespace"/>. connect() returns when the SYN-ACK arrived,
    /// one round trip after the SYN left. Each client closes with an RST (linger 0): no TIME_WAIT, no FIN
    /// exchange still crossing the link when the next SYN goes.
    /// </summary>
    public static IReadOnlyList<RttSample> TcpHandshakes(string clientNamespace, string serverNamespace, IPEndPoint server, int count, TimeSpan gap, TimeSpan connectTimeout)
    {
        using var listener = NetNamespace.Run(serverNamespace, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            LatencySmtp.Transport.Kernel.SocketOptions.ReuseAddressOnly(s);
            s.Bind(server);
            s.Listen(1024);
            return s;
        });
        using var stop = new CancellationTokenSource();
        var acceptor = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var accepted = await listener.AcceptAsync(stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    if (stop.IsCancellationRequested) return;
                }
            }
        });
        var samples = new List<RttSample>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                using var client = NetNamespace.Run(clientNamespace, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
                {
                    NoDelay = true,
                    LingerState = new LingerOption(true, 0),
                });
                // A blocking connect(2): this thread wakes itself when the SYN-ACK is in, no hand-over to
                // another thread inside the timed span. Linux bounds a blocking connect by SO_SNDTIMEO.
                client.SendTimeout = (int)connectTimeout.TotalMilliseconds;
                double ms = double.NaN;
                long begin = MonotonicClock.NowTicks;
                try
                {
                    client.Connect(server);
                    ms = MonotonicClock.TicksToTimeSpan(MonotonicClock.NowTicks - begin).TotalMilliseconds;
                }
                catch (SocketException)
                {
                    // no handshake within the timeout: counted as lost
                }
                samples.Add(new RttSample(i, ms));
                if (gap > TimeSpan.Zero) Thread.Sleep(gap);
            }
        }
        finally
        {
            stop.Cancel();
            listener.Close();
            acceptor.Wait(TimeSpan.FromSeconds(2));
        }
        return samples;
    }
}
