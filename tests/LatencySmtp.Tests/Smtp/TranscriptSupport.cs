using System.Text;
using LatencySmtp.Smtp;

namespace LatencySmtp.Tests.Smtp;

/// <summary>
/// MailKit-style byte transcripts: "C: " lines are what the client sends, "S: " lines what the server
/// answers, each followed by CRLF on the wire. "C+ " appends raw text without CRLF.
/// </summary>
internal static class Transcript
{
    public static (byte[] Client, byte[] Server) Parse(string transcript)
    {
        var client = new StringBuilder();
        var server = new StringBuilder();
        foreach (var raw in transcript.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0) continue;
            if (line is "C:") line = "C: ";
            if (line is "S:") line = "S: ";
            if (line.StartsWith("C: ", StringComparison.Ordinal)) client.Append(line[3..]).Append("\r\n");
            else if (line.StartsWith("C+ ", StringComparison.Ordinal)) client.Append(line[3..]);
            else if (line.StartsWith("S: ", StringComparison.Ordinal)) server.Append(line[3..]).Append("\r\n");
            else throw new ArgumentException($"Bad transcript line: {line}");
        }
        return (Encoding.UTF8.GetBytes(client.ToString()), Encoding.UTF8.GetBytes(server.ToString()));
    }

    public static string Show(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}

/// <summary>Drives a ServerSession like an adapter: feeds bytes in a chosen split, completes deliveries.</summary>
internal sealed class ServerHarness
{
    public ServerSession Session { get; }
    public List<PendingDelivery> Delivered { get; } = [];
    public MemoryStream Output { get; } = new();
    public bool DeliverySucceeds { get; set; } = true;
    public bool AutoComplete { get; set; } = true;

    public ServerHarness(ServerMode mode, SmtpLimits? limits = null, bool start = true)
    {
        Session = new ServerSession(new ServerOptions { HostName = "mx.test", Software = "Srv/1.0", Limits = limits ?? SmtpLimits.Rfc5321 }, mode);
        if (start) Session.Start();
        Drain();
    }

    /// <summary>Feeds data in chunks of chunkSize (0 = all at once).</summary>
    public ServerHarness Feed(byte[] data, int chunkSize = 0)
    {
        if (chunkSize <= 0) chunkSize = Math.Max(1, data.Length);
        for (int i = 0; i < data.Length; i += chunkSize)
        {
            Session.Receive(data.AsSpan(i, Math.Min(chunkSize, data.Length - i)));
            Drain();
        }
        return this;
    }

    public ServerHarness Feed(string text, int chunkSize = 0) => Feed(Encoding.UTF8.GetBytes(text), chunkSize);

    public void Drain()
    {
        while (true)
        {
            if (Session.HasOutput) Output.Write(Session.TakeOutput());
            if (!AutoComplete || Session.PendingDelivery is not { } pending) break;
            // Copy: the session may reuse nothing, but an adapter would have stored it by now.
            Delivered.Add(pending with { Message = pending.Message.ToArray() });
            Session.CompleteDelivery(DeliverySucceeds
                ? new DeliveryResult(true, $"Q{Delivered.Count}", null)
                : new DeliveryResult(false, null, "disk full"));
        }
    }

    public string Text => Encoding.UTF8.GetString(Output.ToArray());
    public string[] Replies => Text.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
}
