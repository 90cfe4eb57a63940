using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace LatencySmtp.Transport.Linux;

public static class Routes
{
    /// <summary>The source address and interface the kernel would use towards <paramref name="destination"/> (ip route get).</summary>
    public static (IPAddress Source, string Interface) RouteTo(IPAddress destination, string? netns = null)
    {
        var output = HostCommand.RunIn(netns, "ip", ["-o", "-4", "route", "get", destination.ToString()]);
        var words = output.Split((char[])[' ', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
        string? Word(string key) => Array.IndexOf(words, key) is var i and >= 0 && i + 1 < words.Length ? words[i + 1] : null;
        var dev = Word("dev") ?? throw new InvalidOperationException($"no route to {destination}: {output.Trim()}");
        var src = Word("src") ?? throw new InvalidOperationException($"no source address towards {destination}: {output.Trim()}");
        return (IPAddress.Parse(src), dev);
    }

    /// <summary>The interface that owns <paramref name="local"/> in the current namespace.</summary>
    public static string InterfaceOf(IPAddress local) =>
        NetworkInterface.GetAllNetworkInterfaces()
            .FirstOrDefault(n => n.GetIPProperties().UnicastAddresses.Any(a => a.Address.Equals(local)))?.Name
        ?? throw new InvalidOperationException($"no interface here has the address {local}");

    public static uint ToUInt32(IPAddress a)
    {
        if (a.AddressFamily != AddressFamily.InterNetwork) throw new ArgumentException($"{a} is not an IPv4 address");
        var b = a.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    public static IPAddress ToAddress(uint a) => new([(byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a]);
}
