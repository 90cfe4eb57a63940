using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using LatencySmtp.Experiments.Results;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Experiments.Accuracy;

/// <summary>One rate step of the flood: what was offered, what arrived, and how late.</summary>
public sealed record RateRow(double OfferedPps, long Sent, double SentPps, long Received, long Lost,
    double MedianAddedMs, double P99AddedMs, double MaxAddedMs, bool Sustained);

/// <summary>
/// The emulator's own rate limit: UDP datagrams at a fixed rate from client to server namespace, each
/// carrying its send time; the server side takes the one-way delay (both namespaces share
/// CLOCK_MONOTONIC) and subtracts the configured delay. What is left is delay the emulator (and the
/// probe's own wake-ups) added.
/// </summary>
public static class UdpFlood
{
    public static (long Sent, double SentPps, long Received, List<double> AddedMs) Run(string clientNamespace, string serverNamespace,
        IPAddress serverAddress, int port, double pps, TimeSpan duration, int payloadBytes, TimeSpan configuredOneWay)
    {
        var endpoint = new IPEndPoint(serverAddress, port);
        using var receiverSocket = NetNamespace.Run(serverNamespace, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 8 << 20, ReceiveTimeout = 100 };
            s.Bind(endpoint);
            return s;
        });
        using var sender = NetNamespace.Run(clientNamespace, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { SendBufferSize = 8 << 20 });
        int count = Math.Max(1, (int)Math.Round(pps * duration.TotalSeconds));
        var arrivals = new List<double>(count);
        var seen = new bool[count];
        long configured = MonotonicClock.TimeSpanToTicks(configuredOneWay);
        long lastSendTicks = long.MaxValue;
        using var stop = new CancellationTokenSource();
        var receiver = new Thread(() =>
        {
            Probes.PrepareThread();
            var buffer = new byte[2048];
            while (!stop.IsCancellationRequested)
            {
                int n;
                try
                {
                    n = receiverSocket.Receive(buffer);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
                {
                    continue;
                }
                long now = MonotonicClock.NowTicks;
                if (n < 12) continue;
                int seq = BinaryPrimitives.ReadInt32BigEndian(buffer);
                long sentAt = BinaryPrimitives.ReadInt64BigEndian(buffer.AsSpan(4));
                if (seq < 0 || seq >= count || seen[seq]) continue;
                seen[seq] = true;
                arrivals.Add(MonotonicClock.TicksToTimeSpan(now - sentAt - configured).TotalMilliseconds);
                if (arrivals.Count == count) return;
            }
        }) { IsBackground = true, Name = "udp-flood-rx" };
        receiver.Start();

        var datagram = new byte[payloadBytes];
        long step = (long)Math.Round(System.Diagnostics.Stopwatch.Frequency / pps);
        long start = MonotonicClock.NowTicks + MonotonicClock.TimeSpanToTicks(TimeSpan.FromMilliseconds(2));
        long first = 0;
        int sent = 0;
        for (int seq = 0; seq < count; seq++)
        {
            long due = start + seq * step;
            if (MonotonicClock.NowTicks < due) MonotonicClock.SleepUntil(due);   // late: catch up without sleeping
            BinaryPrimitives.WriteInt32BigEndian(datagram, seq);
            long now = MonotonicClock.NowTicks;
            if (seq == 0) first = now;
            BinaryPrimitives.WriteInt64BigEndian(datagram.AsSpan(4), now);
            try
            {
                sender.SendTo(datagram, endpoint);
                sent++;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.NoBufferSpaceAvailable)
            {
                // the sender's own queue overflowed: not the emulator's loss, not counted as sent
            }
        }
        lastSendTicks = MonotonicClock.NowTicks;
        double sentPps = sent > 1 ? (sent - 1) / MonotonicClock.TicksToTimeSpan(lastSendTicks - first).TotalSeconds : sent;
        // Wait for stragglers: the delay, plus a generous second for queues to drain.
        receiver.Join(configuredOneWay + TimeSpan.FromSeconds(1));
        stop.Cancel();
        receiver.Join(TimeSpan.FromSeconds(1));
        return (sent, sentPps, arrivals.Count, arrivals);
    }

    /// <summary>Summarises the steps and marks which ones the emulator sustained: every datagram arrived,
    /// the median added delay stays within <paramref name="medianToleranceMs"/> of the slowest step's and
    /// the p99 within <paramref name="p99ToleranceMs"/> of its p99 (a queue building up shows in the tail first).</summary>
    public static List<RateRow> Summarise(IReadOnlyList<(double Pps, long Sent, double SentPps, long Received, List<double> Added)> steps,
        double medianToleranceMs, double p99ToleranceMs)
    {
        var ordered = steps.OrderBy(s => s.Pps).ToList();
        var slowest = ordered.Count > 0 ? ordered[0].Added : [];
        double baseMedian = Statistics.Median(slowest), baseP99 = Statistics.Percentile(slowest, 99);
        return ordered.Select(s =>
        {
            double median = Statistics.Median(s.Added), p99 = Statistics.Percentile(s.Added, 99);
            bool sustained = s.Received >= s.Sent && s.Sent > 0 && median <= baseMedian + medianToleranceMs && p99 <= baseP99 + p99ToleranceMs;
            return new RateRow(s.Pps, s.Sent, s.SentPps, s.Received, s.Sent - s.Received, median, p99,
                s.Added.Count > 0 ? s.Added.Max() : double.NaN, sustained);
        }).ToList();
    }
}
