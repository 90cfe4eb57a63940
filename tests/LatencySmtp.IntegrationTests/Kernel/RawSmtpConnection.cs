using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LatencySmtp.IntegrationTests.Kernel;

/// <summary>A bare TCP connection that writes exact bytes and reads SMTP replies, every read time-limited.</summary>
internal sealed class RawSmtpConnection : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly StringBuilder _pending = new();
    private int _lineStart;

    public static async Task<RawSmtpConnection> OpenAsync(IPEndPoint server)
    {
        var c = new RawSmtpConnection();
        await c._socket.ConnectAsync(server).WaitAsync(TimeSpan.FromSeconds(5));
        return c;
    }

    public Socket Socket => _socket;

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!bytes.IsEmpty)
        {
            int n = await _socket.SendAsync(bytes, SocketFlags.None, limit.Token);
            bytes = bytes[n..];
        }
    }

    /// <summary>The next complete reply: (code, text of every line); null when the server closed first.</summary>
    public async Task<(int Code, string Text)?> ReadReplyAsync(TimeSpan? timeout = null)
    {
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        var lines = new List<string>();
        while (true)
        {
            var line = await ReadLineAsync(limit.Token);
            if (line is null) return null;
            lines.Add(line);
            if (line.Length < 4 || line[3] != '-')
                return (int.Parse(line[..3]), string.Join("\n", lines));
        }
    }

    /// <summary>True when the server closed (EOF or reset) within the time limit; fails on data.</summary>
    public async Task<bool> ClosedAsync(TimeSpan? timeout = null)
    {
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            var line = await ReadLineAsync(limit.Token);
            if (line is not null) throw new InvalidOperationException($"expected the end of the connection, got '{line}'");
            return true;
        }
        catch (SocketException) { return true; }
    }

    private async Task<string?> ReadLineAsync(CancellationToken cancel)
    {
        while (true)
        {
            for (int i = _lineStart; i < _pending.Length; i++)
            {
                if (_pending[i] != '\n') continue;
                var line = _pending.ToString(0, i).TrimEnd('\r');
                _pending.Remove(0, i + 1);
                _lineStart = 0;
                return line;
            }
            _lineStart = _pending.Length;
            int n = await _socket.ReceiveAsync(_buffer, SocketFlags.None, cancel);
            if (n == 0) return null;
            _pending.Append(Encoding.UTF8.GetString(_buffer, 0, n));
        }
    }

    public void Dispose() => _socket.Dispose();
}
