using System.Collections.Concurrent;
using LatencySmtp.Tcp;
using LatencySmtp.Transport.Raw;

namespace LatencySmtp.Tests.Transport;

/// <summary>
/// In-process stand-in for the raw sockets: segments cross at once (real time, no root) between the
/// <see cref="ISegmentLink"/>s attached to one wire, through an optional drop filter. Lets the raw client and server
/// drivers, with their threads and timers, run in the fast tests.
/// </summary>
internal sealed class LoopbackWire
{
    private readonly ConcurrentDictionary<uint, Endpoint> _hosts = new();

    /// <summary>(source, destination, segment) → true to lose it. Called on the sender's thread.</summary>
    public Func<uint, uint, TcpSegment, bool>? DropFilter { get; set; }

    /// <summary>Every segment put on the wire (lost or not), in send order.</summary>
    public ConcurrentQueue<(uint Source, uint Destination, TcpSegment Segment, bool Lost)> Sent { get; } = new();

    public ISegmentLink Attach(uint address) => _hosts[address] = new Endpoint(this, address);

    private void Carry(uint source, uint destination, TcpSegment segment)
    {
        bool lost = DropFilter?.Invoke(source, destination, segment) == true;
        Sent.Enqueue((source, destination, segment, lost));
        if (!lost && _hosts.TryGetValue(destination, out var host) && !host.Disposed)
            host.Inbox.Add((source, segment));
    }

    private sealed class Endpoint(LoopbackWire wire, uint address) : ISegmentLink
    {
        public readonly BlockingCollection<(uint Source, TcpSegment Segment)> Inbox = new();
        public volatile bool Disposed;

        public uint LocalAddress => address;
        public long Malformed => 0;

        public void Send(uint destination, TcpSegment segment)
        {
            ObjectDisposedException.ThrowIf(Disposed, this);
            wire.Carry(address, destination, segment);
        }

        public bool TryReceive(int timeoutMs, ushort? localPort, out uint source, out TcpSegment segment)
        {
            var until = Environment.TickCount64 + Math.Max(0, timeoutMs);
            while (!Disposed)
            {
                var left = (int)Math.Max(0, until - Environment.TickCount64);
                if (!Inbox.TryTake(out var item, left)) break;
                if (localPort is { } p && item.Segment.DestinationPort != p) continue;
                (source, segment) = item;
                return true;
            }
            source = 0;
            segment = null!;
            return false;
        }

        public void Dispose() => Disposed = true;
    }
}
