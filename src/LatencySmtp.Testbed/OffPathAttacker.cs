using LatencySmtp.Tcp;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Testbed;

/// <summary>
/// An off-path host for the security experiments: a fourth namespace ("&lt;testbed&gt;-a") whose veth ends in
/// the client namespace, which forwards its packets onto the emulated link. It sends IPv4 packets with any
/// source address (raw socket, IP_HDRINCL), typically the client's; the answers go to the real client and
/// are never routed back to it, so it is blind as the classic spoofing attacker is (RFC 6247 §3).
/// </summary>
/// <remarks>
/// The client namespace must accept packets from it that carry its own address: ip_forward=1,
/// rp_filter=0 and accept_local=1 on the attacker-side veth (Linux drops "martian" local sources otherwise).
/// Removed on Dispose, on process exit, and with the testbed (the veth dies with the client namespace).
/// </remarks>
public sealed class OffPathAttacker : IDisposable
{
    public const string ClientSideInterface = "veth-a";
    public const string Interface = "eth0";
    private const string ClientSideAddress = "192.168.77.1", AttackerAddress = "192.168.77.2";

    private readonly RawIpv4Socket _raw;
    private readonly byte[] _packet = new byte[65536];
    private readonly EventHandler _exitHook;
    private ushort _ipId;
    private bool _disposed;

    private OffPathAttacker(string ns, RawIpv4Socket raw)
    {
        Namespace = ns;
        _raw = raw;
        _exitHook = (_, _) => Dispose();
        AppDomain.CurrentDomain.ProcessExit += _exitHook;
    }

    public string Namespace { get; }

    public long PacketsSent { get; private set; }

    public static OffPathAttacker Attach(Testbed bed)
    {
        ArgumentNullException.ThrowIfNull(bed);
        var ns = bed.Name + "-a";
        if (NetNamespace.Exists(ns)) throw new TestbedException($"attacker namespace {ns} already exists");
        HostCommand.Ip(null, "netns", "add", ns);
        try
        {
            string c = bed.ClientNamespace;
            HostCommand.Ip(c, "link", "add", ClientSideInterface, "type", "veth", "peer", "name", Interface, "netns", ns);
            HostCommand.InNamespace(c, "sysctl", ["-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                $"net.ipv4.conf.{ClientSideInterface}.rp_filter=0", $"net.ipv4.conf.{ClientSideInterface}.accept_local=1"]);
            HostCommand.InNamespace(ns, "sysctl", ["-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
            HostCommand.Ip(c, "addr", "add", $"{ClientSideAddress}/30", "dev", ClientSideInterface);
            HostCommand.Ip(c, "link", "set", ClientSideInterface, "up");
            HostCommand.Ip(ns, "addr", "add", $"{AttackerAddress}/30", "dev", Interface);
            HostCommand.Ip(ns, "link", "set", Interface, "up");
            HostCommand.Ip(ns, "link", "set", "lo", "up");
            HostCommand.Ip(ns, "route", "add", "default", "via", ClientSideAddress);
            foreach (var (n, dev) in new[] { (c, ClientSideInterface), (ns, Interface) })
                HostCommand.InNamespace(n, "ethtool", ["-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
            return new OffPathAttacker(ns, NetNamespace.Run(ns, RawIpv4Socket.Open));
        }
        catch
        {
            HostCommand.TryRun("ip", ["netns", "del", ns]);
            throw;
        }
    }

    /// <summary>Sends <paramref name="segment"/> from <paramref name="spoofedSource"/> to <paramref name="destination"/>.</summary>
    public void Send(uint spoofedSource, uint destination, TcpSegment segment)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var n = Ipv4Packet.EmitTcp(_packet, spoofedSource, destination, segment, _ipId++);
        _raw.Send(_packet.AsSpan(0, n), destination);
        PacketsSent++;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        AppDomain.CurrentDomain.ProcessExit -= _exitHook;
        _raw.Dispose();
        HostCommand.TryRun("ip", ["netns", "del", Namespace]);
    }
}
