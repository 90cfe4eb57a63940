using System.Text;

namespace LatencySmtp.Experiments.Running;

/// <summary>Deterministic RFC 5322 test messages of an exact size (CRLF line ends, lines under 78 octets).</summary>
public static class MessageFactory
{
    public static byte[] Create(int sizeBytes, int seed, string from, IReadOnlyList<string> to, string subject)
    {
        var header = new StringBuilder()
            .Append("From: <").Append(from).Append(">\r\n")
            .Append("To: ").Append(string.Join(", ", to.Select(t => $"<{t}>"))).Append("\r\n")
            .Append("Subject: ").Append(subject).Append("\r\n")
            .Append("Date: Thu, 03 Dec 2026 12:00:00 +0000\r\n")
            .Append("Message-ID: <").Append(seed).Append('.').Append(sizeBytes).Append("@client.lsm.test>\r\n")
            .Append("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
            .ToString();
        var size = Math.Max(sizeBytes, header.Length + 3);
        var bytes = new byte[size];
        var pos = Encoding.ASCII.GetBytes(header, bytes);
        var rng = new Random(seed);
        const string alphabet = "abcdefghijklmnopqrstuvwxyz     ";
        while (pos < size)
        {
            var remaining = size - pos;
            // Lines of 72 characters + CRLF; the last one takes what is left (at least one character).
            var text = remaining <= 74 ? remaining - 2 : remaining - 74 < 3 ? 70 : 72;
            for (var i = 0; i < text; i++) bytes[pos++] = (byte)alphabet[rng.Next(alphabet.Length)];
            bytes[pos - text] = (byte)'L';   // no line starts with a space or a dot
            bytes[pos++] = (byte)'\r';
            bytes[pos++] = (byte)'\n';
        }
        return bytes;
    }
}
