namespace LatencySmtp.Testbed.Analysis;

/// <summary>
/// Rebuilds one direction of a TCP byte stream from segments placed by stream offset (sequence number
/// relative to ISN + 1), ignoring duplicates and overlaps (first copy wins), and remembers which captured
/// segment made each byte available in order: that is when the receiving application could read it.
/// Memory is bounded by <see cref="MaxBytes"/> (in-order plus held out-of-order bytes); past it, the
/// stream is cut (<see cref="Overflowed"/>) but <see cref="HighestEnd"/> is still tracked.
/// </summary>
internal sealed class StreamReassembler(long maxBytes)
{
    public const int MaxHeldSegments = 4096;

    private byte[] _buffer = new byte[256];
    private long _length;
    private long _heldBytes;
    private readonly SortedDictionary<long, byte[]> _held = [];
    private readonly List<(long End, int Index, decimal Time)> _deliveries = [];

    public long MaxBytes { get; } = maxBytes;

    /// <summary>Highest stream offset + 1 any segment claimed so far (declared lengths, not captured ones).</summary>
    public long HighestEnd { get; private set; }

    public bool Overflowed { get; private set; }

    /// <summary>The in-order bytes.</summary>
    public ReadOnlySpan<byte> Contiguous => _buffer.AsSpan(0, (int)_length);

    /// <summary>
    /// Adds one segment's payload: <paramref name="offset"/> is its stream offset, <paramref name="declaredLength"/>
    /// its length per the IP header, <paramref name="captured"/> the bytes the capture holds (may be shorter).
    /// Returns true when the segment reaches beyond every earlier one (new data, not a retransmission).
    /// </summary>
    public bool Add(long offset, int declaredLength, ReadOnlySpan<byte> captured, int index, decimal time)
    {
        if (declaredLength <= 0) return false;
        var end = offset + declaredLength;
        var isNew = end > HighestEnd;
        if (isNew) HighestEnd = end;

        if (captured.Length > declaredLength) captured = captured[..declaredLength];
        // Bytes before the stream start (keep-alive probes use SND.NXT - 1) are old news.
        if (offset < 0)
        {
            var skip = (int)Math.Min(-offset, captured.Length);
            captured = captured[skip..];
            offset += skip;
            if (offset < 0) return isNew;
        }
        if (captured.IsEmpty || Overflowed) return isNew;

        var before = _length;
        if (offset <= _length)
        {
            Append(offset, captured);
            DrainHeld();
        }
        else
        {
            Hold(offset, captured);
        }
        if (_length > before) _deliveries.Add((_length, index, time));
        return isNew;
    }

    /// <summary>Capture index and time of the segment that made byte <paramref name="offset"/> available in order.</summary>
    public (int Index, decimal Time) DeliveryOf(long offset)
    {
        if (offset < 0 || offset >= _length) throw new ArgumentOutOfRangeException(nameof(offset));
        int lo = 0, hi = _deliveries.Count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (_deliveries[mid].End > offset) hi = mid; else lo = mid + 1;
        }
        return (_deliveries[lo].Index, _deliveries[lo].Time);
    }

    private void Append(long offset, ReadOnlySpan<byte> data)
    {
        var skip = _length - offset;
        if (skip >= data.Length) return;
        data = data[(int)skip..];
        if (_length + _heldBytes + data.Length > MaxBytes)
        {
            Overflowed = true;
            return;
        }
        EnsureCapacity(_length + data.Length);
        data.CopyTo(_buffer.AsSpan((int)_length));
        _length += data.Length;
    }

    private void Hold(long offset, ReadOnlySpan<byte> data)
    {
        if (_held.TryGetValue(offset, out var existing) && existing.Length >= data.Length) return;
        if (_held.Count >= MaxHeldSegments || _length + _heldBytes + data.Length > MaxBytes)
        {
            Overflowed = true;
            return;
        }
        if (existing is not null) _heldBytes -= existing.Length;
        _held[offset] = data.ToArray();
        _heldBytes += data.Length;
    }

    private void DrainHeld()
    {
        while (_held.Count > 0)
        {
            var (offset, data) = _held.First();
            if (offset > _length) return;
            _held.Remove(offset);
            _heldBytes -= data.Length;
            Append(offset, data);
            if (Overflowed) return;
        }
    }

    private void EnsureCapacity(long needed)
    {
        if (needed <= _buffer.Length) return;
        var size = Math.Max(needed, Math.Min((long)_buffer.Length * 2, MaxBytes));
        Array.Resize(ref _buffer, (int)size);
    }
}
