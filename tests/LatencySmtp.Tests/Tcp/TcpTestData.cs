using LatencySmtp.Tcp;

namespace LatencySmtp.Tests.Tcp;

/// <summary>Data and reads shared by the TCP tests.</summary>
internal static class TcpTestData
{
    /// <summary>Seeded random bytes: a request whose every byte can be checked after reassembly.</summary>
    public static byte[] Payload(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>Everything the connection holds for the application, all of it.</summary>
    public static byte[] ReadAll(Tcb tcb)
    {
        var b = new byte[tcb.Available];
        Xunit.Assert.Equal(b.Length, tcb.Read(b));
        return b;
    }
}
