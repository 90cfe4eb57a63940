namespace LatencySmtp.Tcp;

/// <summary>A growable FIFO of bytes with random-access reads, for send and receive queues.</summary>
internal sealed class ByteBuffer
{
    private byte[] _buffer = [];
    private int _start, _count;

    public int Count => _count;

    public void Append(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        if (_start + _count + data.Length > _buffer.Length)
        {
            if (_count + data.Length <= _buffer.Length)
                Array.Copy(_buffer, _start, _buffer, 0, _count);
            else
            {
                var bigger = new byte[Math.Max(_buffer.Length * 2, _count + data.Length)];
                Array.Copy(_buffer, _start, bigger, 0, _count);
                _buffer = bigger;
            }
            _start = 0;
        }
        data.CopyTo(_buffer.AsSpan(_start + _count));
        _count += data.Length;
    }

    public void Append(byte b) => Append([b]);

    public ReadOnlySpan<byte> Slice(int offset, int length) => _buffer.AsSpan(_start + offset, length);

    public void Discard(int n)
    {
        n = Math.Min(n, _count);
        _start += n;
        _count -= n;
        if (_count == 0) _start = 0;
    }
}
