namespace LatencySmtp.Tcp;

/// <summary>
/// What a host remembers about one peer host (RFC 1644 §3.3, §4.2): <see cref="CC"/> is cache.CC, the
/// last CC accepted in a SYN from it (server side, for the TAO test); <see cref="CCSent"/> is
/// cache.CCsent, the last CC we sent it in a SYN (client side); <see cref="Mss"/> the MSS it advertised;
/// <see cref="Cookie"/> the ttcp-cookie it gave us (client side, RFC 7413 §4.1.3 cookie cache).
/// </summary>
public readonly record struct TaoEntry(uint? CC, uint? CCSent, ushort? Mss, byte[]? Cookie = null);

/// <summary>Per-remote-host T/TCP cache, bounded: the least recently used entry is evicted at capacity.</summary>
public sealed class TaoCache
{
    private readonly Dictionary<uint, LinkedListNode<(uint Host, TaoEntry Entry)>> _map = new();
    private readonly LinkedList<(uint Host, TaoEntry Entry)> _lru = new();

    public TaoCache(int capacity = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    public int Capacity { get; }
    public int Count => _map.Count;

    /// <summary>The entry for <paramref name="host"/>, or an all-undefined entry.</summary>
    public TaoEntry Get(uint host)
    {
        if (!_map.TryGetValue(host, out var node)) return default;
        _lru.Remove(node);
        _lru.AddFirst(node);
        return node.Value.Entry;
    }

    public void Set(uint host, TaoEntry entry)
    {
        if (_map.TryGetValue(host, out var node))
        {
            _lru.Remove(node);
            node.Value = (host, entry);
            _lru.AddFirst(node);
            return;
        }
        if (_map.Count >= Capacity)
        {
            var last = _lru.Last!;
            _lru.RemoveLast();
            _map.Remove(last.Value.Host);
        }
        _map[host] = _lru.AddFirst((host, entry));
    }

    public void Update(uint host, Func<TaoEntry, TaoEntry> change) => Set(host, change(Get(host)));

    public void Remove(uint host)
    {
        if (_map.Remove(host, out var node)) _lru.Remove(node);
    }

    public void Clear() { _map.Clear(); _lru.Clear(); }
}
