using System.Runtime.CompilerServices;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Testbed;

/// <summary>
/// The user-space link emulator: forwards Ethernet frames between two interfaces through one
/// <see cref="DelayQueue"/> per direction (Mahimahi style). Per direction a receiver thread stamps each
/// frame on arrival and queues it with its release time, and a transmitter thread sleeps with
/// clock_nanosleep(TIMER_ABSTIME) until the head is due and sends it: precise without spinning.
/// </summary>
public sealed class DelayLine : IDisposable
{
    private readonly Direction clientToServer, serverToClient;
    private readonly CancellationTokenSource stop = new();

    public DelayLine(PacketSocket client, PacketSocket server, LinkDirection clientToServerLink, LinkDirection serverToClientLink,
        int queueBytes = 16 << 20, int realtimePriority = 0)
    {
        clientToServer = new Direction("client->server", client, server, clientToServerLink, new DelayQueue(queueBytes), realtimePriority, stop);
        serverToClient = new Direction("server->client", server, client, serverToClientLink, new DelayQueue(queueBytes), realtimePriority, stop);
    }

    public WaitHandle Stopped => stop.Token.WaitHandle;
    /// <summary>The first error that stopped a forwarding thread, if any.</summary>
    public Exception? Failure => clientToServer.Failure ?? serverToClient.Failure;
    public bool RealtimeGranted => clientToServer.RealtimeGranted && serverToClient.RealtimeGranted;

    public void Start()
    {
        clientToServer.Start();
        serverToClient.Start();
    }

    /// <summary>Stops all four threads (each wakes within ~100 ms) and waits for them, bounded.</summary>
    public void Stop()
    {
        stop.Cancel();
        clientToServer.Join(TimeSpan.FromSeconds(2));
        serverToClient.Join(TimeSpan.FromSeconds(2));
    }

    /// <summary>
    /// Runs every method of the forwarding path once before the first real frame, so that frame does not
    /// pay for JIT compilation and P/Invoke binding (about 1-2 ms each way, measured). The send goes to
    /// <paramref name="scratch"/>, a packet socket on an interface no one listens to (the middle's lo).
    /// </summary>
    public static void WarmUp(PacketSocket scratch)
    {
        var frame = new byte[60];
        frame[12] = 0x88;
        frame[13] = 0xb5;   // IEEE 802 local experimental EtherType
        var queue = new DelayQueue(4096, 4);
        var link = new LinkDirection(0);
        var histogram = new LatenessHistogram();
        Span<long> releases = stackalloc long[2];
        for (int i = 0; i < 2; i++)
        {
            long now = MonotonicClock.NowTicks;
            link.Admit(now, frame.Length, releases);
            long release = releases[0];
            queue.TryEnqueue(release, frame);
            queue.TryPeekRelease(0, out _);
            MonotonicClock.SleepUntil(release);
            try
            {
                scratch.Send(queue.PeekFrame());
            }
            catch (IOException)
            {
                // lo is down (ENETDOWN): the call path is warm all the same
            }
            histogram.Record(MonotonicClock.TicksToTimeSpan(MonotonicClock.NowTicks - release));
            queue.RemoveHead();
            try
            {
                scratch.Receive(frame.AsSpan(0, 60), 0);
            }
            catch (IOException)
            {
                // a socket bound to a down interface reports ENETDOWN once
            }
            queue.WakeConsumer();
        }
        _ = histogram.Percentile(0.5);
    }

    public string Report() => $"{clientToServer.Report()}\n{serverToClient.Report()}";

    public void Dispose()
    {
        Stop();
        stop.Dispose();
    }

    private sealed class Direction(string label, PacketSocket input, PacketSocket output, LinkDirection link, DelayQueue queue,
        int realtimePriority, CancellationTokenSource stop)
    {
        private const int PollMilliseconds = 100;    // how soon a blocked thread notices Stop
        private readonly LatenessHistogram lateness = new();
        private Thread? receiver, transmitter;
        private long received, forwarded, linkDrops, sendErrors;
        private volatile bool realtimeDenied;

        public Exception? Failure { get; private set; }
        public bool RealtimeGranted => realtimePriority > 0 && !realtimeDenied;

        public void Start()
        {
            receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = $"rx {label}" };
            transmitter = new Thread(TransmitLoop) { IsBackground = true, Name = $"tx {label}" };
            receiver.Start();
            transmitter.Start();
        }

        public void Join(TimeSpan timeout)
        {
            queue.WakeConsumer();
            receiver?.Join(timeout);
            transmitter?.Join(timeout);
        }

        public string Report() =>
            $"{label}: received={received} forwarded={forwarded} link_drops={linkDrops} (lost={link.Lost} bottleneck={link.BottleneckDrops}) duplicated={link.Duplicated} queue_drops={queue.OverflowDrops} " +
            $"send_errors={sendErrors} truncated={input.TruncatedFrames} lateness_us p50={Micros(lateness.Percentile(0.5))} " +
            $"p99={Micros(lateness.Percentile(0.99))} max={Micros(lateness.Max)} realtime={RealtimeGranted}";

        private static string Micros(TimeSpan t) => (t.Ticks / 10).ToString(System.Globalization.CultureInfo.InvariantCulture);

        private void PrepareThread()
        {
            try
            {
                MonotonicClock.MinimizeTimerSlack();
            }
            catch (IOException)
            {
                // best effort: only precision suffers
            }
            if (realtimePriority > 0 && !LinuxProcess.TrySetRealtimePriority(realtimePriority)) realtimeDenied = true;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void ReceiveLoop()
        {
            PrepareThread();
            var buffer = new byte[65536];
            Span<long> releases = stackalloc long[2];
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    int length = input.Receive(buffer, PollMilliseconds);
                    if (length == 0) continue;
                    long arrival = MonotonicClock.NowTicks;
                    received++;
                    int copies = link.Admit(arrival, length, releases);
                    if (copies == 0) linkDrops++;
                    for (int i = 0; i < copies; i++) queue.TryEnqueue(releases[i], buffer.AsSpan(0, length));
                }
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void TransmitLoop()
        {
            PrepareThread();
            long maxSleep = MonotonicClock.TimeSpanToTicks(TimeSpan.FromMilliseconds(PollMilliseconds));
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    if (!queue.TryPeekRelease(PollMilliseconds, out long release)) continue;
                    long now = MonotonicClock.NowTicks;
                    if (now < release)
                    {
                        // Long delays sleep in slices so Stop is noticed; the last slice ends on the release time.
                        MonotonicClock.SleepUntil(Math.Min(release, now + maxSleep));
                        now = MonotonicClock.NowTicks;
                        if (now < release) continue;
                    }
                    // Lateness is taken when the frame is handed to send(2): on a veth, send returns only after
                    // the peer namespace's stack has processed the frame (softirq in this thread), which is not the line's delay.
                    lateness.Record(MonotonicClock.TicksToTimeSpan(now - release));
                    try
                    {
                        output.Send(queue.PeekFrame());
                        forwarded++;
                    }
                    catch (IOException e) when (e.HResult is 105 or 90)   // ENOBUFS, EMSGSIZE: this frame is lost, the link lives on
                    {
                        if (++sendErrors <= 5) Console.Error.WriteLine($"delay-line {label}: {e.Message}");
                    }
                    queue.RemoveHead();
                }
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        private void Fail(Exception e)
        {
            if (stop.IsCancellationRequested) return;   // sockets closing on shutdown
            Failure ??= e;
            stop.Cancel();
        }
    }
}
