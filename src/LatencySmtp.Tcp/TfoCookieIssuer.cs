using System.Buffers.Binary;
using System.Security.Cryptography;

namespace LatencySmtp.Tcp;

/// <summary>What a server made of the cookie option in a SYN (RFC 7413 §4.1).</summary>
public enum CookieCheck
{
    /// <summary>No cookie option: the client does not ask for the accelerated open.</summary>
    None,
    /// <summary>Empty option: a cookie request (first contact).</summary>
    Requested,
    /// <summary>Valid under the current key.</summary>
    Current,
    /// <summary>Valid under the previous key: accepted, and a fresh cookie goes back on the SYN-ACK.</summary>
    Previous,
    /// <summary>Forged, for another address, or older than two key periods.</summary>
    Invalid,
}

/// <summary>
/// Server side of ttcp-cookie, after RFC 7413 §4.1.2: a cookie is a MAC of the client's IP address under a
/// server key, here HMAC-SHA256 truncated to <see cref="CookieLength"/> bytes. The key changes every
/// <see cref="Rotation"/> (derived from one secret and the period number, so no key state beyond it),
/// and a cookie is accepted under the current and the previous key: it lives at most 2 x Rotation.
/// Time comes in as an argument (sans-I/O).
/// </summary>
public sealed class TfoCookieIssuer
{
    public const int CookieLength = 8;

    private readonly byte[] _secret;
    private (long Period, byte[] Key) _k0 = (long.MinValue, []), _k1 = (long.MinValue, []);

    public TfoCookieIssuer(ReadOnlySpan<byte> secret, TimeSpan rotation)
    {
        if (secret.Length < 16) throw new ArgumentException("secret must be at least 16 bytes", nameof(secret));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(rotation, TimeSpan.Zero);
        _secret = secret.ToArray();
        Rotation = rotation;
    }

    public TimeSpan Rotation { get; }

    /// <summary>Longest time a cookie stays valid: the rest of its period plus the next one.</summary>
    public TimeSpan MaxLifetime => Rotation * 2;

    public byte[] Issue(uint clientAddress, TimeSpan now) => Mac(Period(now), clientAddress);

    public CookieCheck Check(uint clientAddress, ReadOnlySpan<byte> cookie, TimeSpan now)
    {
        if (cookie.IsEmpty) return CookieCheck.Requested;
        if (cookie.Length != CookieLength) return CookieCheck.Invalid;
        long p = Period(now);
        // Constant-time comparison: the cookie is a MAC and must not leak through timing.
        if (CryptographicOperations.FixedTimeEquals(cookie, Mac(p, clientAddress))) return CookieCheck.Current;
        if (CryptographicOperations.FixedTimeEquals(cookie, Mac(p - 1, clientAddress))) return CookieCheck.Previous;
        return CookieCheck.Invalid;
    }

    private long Period(TimeSpan now) => now.Ticks / Rotation.Ticks;

    private byte[] Mac(long period, uint clientAddress)
    {
        Span<byte> address = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(address, clientAddress);
        var full = HMACSHA256.HashData(KeyFor(period), address);
        return full.AsSpan(0, CookieLength).ToArray();
    }

    private byte[] KeyFor(long period)
    {
        if (_k0.Period == period) return _k0.Key;
        if (_k1.Period == period) return _k1.Key;
        Span<byte> label = stackalloc byte[8 + 11];
        "ttcp-cookie"u8.CopyTo(label);
        BinaryPrimitives.WriteInt64BigEndian(label[11..], period);
        var key = HMACSHA256.HashData(_secret, label);
        _k1 = _k0;
        _k0 = (period, key);
        return key;
    }
}
