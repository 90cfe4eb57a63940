using LatencySmtp.Tcp;
using LatencySmtp.Transport.Raw;

namespace LatencySmtp.Tests.Transport;

public sealed class TtcpHostStateTests
{
    private const uint Client = 0x0AD95301, Server = 0x0AD95302, Other = 0x0AD95303;

    [Fact]
    public void CCgen_and_the_servers_TAO_entry_survive_a_new_process()
    {
        var dir = Directory.CreateTempSubdirectory("lsm-state-").FullName;
        var path = Path.Combine(dir, "sub", "ttcp-client.json");
        try
        {
            var first = new TtcpHost(new TtcpOptions(), Client);
            for (int i = 0; i < 5; i++) first.NextCC();
            first.Tao.Update(Server, e => e with { CCSent = 5, Mss = 1400, Cookie = [1, 2, 3, 4, 5, 6, 7, 8] });
            TtcpHostState.Save(first, path, [Server]);

            var next = new TtcpHost(new TtcpOptions(), Client);
            Assert.True(TtcpHostState.Load(next, path));
            Assert.Equal(6u, next.NextCC());                      // monotonic across processes (RFC 1644 §3.1)
            var entry = next.Tao.Get(Server);
            Assert.Equal(5u, entry.CCSent);                       // so the next SYN carries CC, not CC.NEW
            Assert.Equal((ushort)1400, entry.Mss);
            Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, entry.Cookie);

            // A second server is merged in, the first one kept.
            next.Tao.Update(Other, e => e with { CCSent = 6 });
            TtcpHostState.Save(next, path, [Other]);
            var third = new TtcpHost(new TtcpOptions(), Client);
            TtcpHostState.Load(third, path);
            Assert.Equal(5u, third.Tao.Get(Server).CCSent);
            Assert.Equal(6u, third.Tao.Get(Other).CCSent);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void A_missing_or_corrupt_file_is_a_fresh_host()
    {
        var dir = Directory.CreateTempSubdirectory("lsm-state-").FullName;
        try
        {
            var host = new TtcpHost(new TtcpOptions(), Client);
            Assert.False(TtcpHostState.Load(host, Path.Combine(dir, "none.json")));
            File.WriteAllText(Path.Combine(dir, "bad.json"), "{ not json");
            Assert.False(TtcpHostState.Load(host, Path.Combine(dir, "bad.json")));
            Assert.Equal(1u, host.NextCC());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>A bad file means a fresh host with a warning, never an exception, and nothing of it is half applied.</summary>
    [Theory]
    [InlineData("{\"LastCC\":7,\"Peers\":{\"167859970\":{\"CCSent\":5,\"Mss\":1460,\"Cookie\":\"ABC\"}}}", "odd-length cookie")]
    [InlineData("{\"LastCC\":7,\"Peers\":{\"167859970\":{\"CCSent\":5,\"Mss\":1460,\"Cookie\":\"ZZZZ\"}}}", "not hex")]
    [InlineData("{\"LastCC\":7,\"Peers\":null}", "null peer map")]
    [InlineData("{\"LastCC\":7}", "no peer map")]
    [InlineData("{\"LastCC\":7,\"Peers\":{\"167859971\":{\"CCSent\":5},\"167859970\":null}}", "null peer")]
    [InlineData("{\"LastCC\":7,\"Peers\":{\"10.1.2.3\":{\"CCSent\":5}}}", "bad address")]
    [InlineData("{\"LastCC\":-1,\"Peers\":{}}", "negative CCgen")]
    [InlineData("null", "JSON null")]
    [InlineData("", "empty")]
    public void A_corrupt_file_is_a_fresh_host_with_a_warning(string json, string why)
    {
        var dir = Directory.CreateTempSubdirectory("lsm-state-").FullName;
        try
        {
            var path = Path.Combine(dir, "ttcp-client.json");
            File.WriteAllText(path, json);
            var host = new TtcpHost(new TtcpOptions(), Client);
            var warnings = new StringWriter();
            Assert.False(TtcpHostState.Load(host, path, warnings), why);
            Assert.Contains("warning", warnings.ToString());
            Assert.Contains(path, warnings.ToString());
            Assert.Equal(1u, host.NextCC());                       // CCgen untouched
            Assert.Equal(0, host.Tao.Count);                        // no entry half applied

            // The next save replaces the bad file with a good one.
            host.Tao.Update(Server, e => e with { CCSent = 1 });
            TtcpHostState.Save(host, path, [Server]);
            var next = new TtcpHost(new TtcpOptions(), Client);
            Assert.True(TtcpHostState.Load(next, path, warnings));
            Assert.Equal(1u, next.Tao.Get(Server).CCSent);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
