namespace LatencySmtp.Tcp;

/// <summary>
/// State shared by all connections of one endpoint host: the CC generator and TAO cache of
/// RFC 1644 §3.2–3.3, and the initial send sequence generator.
/// </summary>
public sealed class TtcpHost
{
    private readonly Func<uint> _issGenerator;
    private uint _ccGen;

    public TtcpHost(TtcpOptions options, uint localAddress, Func<uint>? issGenerator = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        LocalAddress = localAddress;
        _issGenerator = issGenerator ?? (() => (uint)Random.Shared.NextInt64(0, 1L << 32));
        if (options.UseCookie)
            Cookies = new TfoCookieIssuer(options.CookieSecret ?? System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), options.CookieRotation);
    }

    /// <summary>The server's cookie issuer when <see cref="TtcpOptions.UseCookie"/>, else null.</summary>
    public TfoCookieIssuer? Cookies { get; }

    public TtcpOptions Options { get; }
    public uint LocalAddress { get; }
    public TaoCache Tao { get; } = new();

    /// <summary>CCgen (RFC 1644 §3.2): incremented per connection, wraps, and skips 0, which means "undefined".</summary>
    public uint NextCC()
    {
        _ccGen++;
        if (_ccGen == 0) _ccGen = 1;
        return _ccGen;
    }

    /// <summary>The CC given to the last connection (0 before the first).</summary>
    public uint LastCC => _ccGen;

    /// <summary>Starts CCgen elsewhere, e.g. to test wrap-around or to continue after a restart.</summary>
    public void SeedCC(uint last) => _ccGen = last;

    internal uint NextIss() => _issGenerator();
}
