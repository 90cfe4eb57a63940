using BenchmarkDotNet.Attributes;
using LatencySmtp.Tcp;

namespace LatencySmtp.Benchmarks;

/// <summary>The user-space TCP hot path: emitting and parsing a segment with options and checksum.</summary>
[MemoryDiagnoser]
public class TcpBenchmarks
{
    private const uint Client = 0x0AD95301, Server = 0x0AD95302;
    private readonly byte[] _packet = new byte[1600];
    private int _length;
    private TcpSegment _segment = null!;

    [GlobalSetup]
    public void Setup()
    {
        _segment = new TcpSegment(21050, 2529, 3426945233, 0, TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Psh, 65535,
            new TcpOptions { Mss = 1460, CC = 3 }, new byte[1174]);
        _length = Ipv4Packet.EmitTcp(_packet, Client, Server, _segment, 1);
    }

    [Benchmark]
    public int EmitSynWithData() => Ipv4Packet.EmitTcp(_packet, Client, Server, _segment, 1);

    [Benchmark]
    public bool ParseSynWithData() => Ipv4Packet.TryParseTcp(_packet.AsSpan(0, _length), out _, out _, out _, out _);
}
