namespace LatencySmtp.Smtp;

/// <summary>The envelope of one mail transaction (RFC 5321 §2.3.1) plus the client's identification.</summary>
/// <param name="ClientDomain">From EHLO/HELO/XID.</param>
/// <param name="ReversePath">MAIL FROM mailbox, "" for the null path.</param>
/// <param name="Recipients">RCPT TO mailboxes in order.</param>
/// <param name="ClientSoftware">XID software token (greeting-less), else null.</param>
/// <param name="TransactionId">XID TXID, else null.</param>
public sealed record MailEnvelope(string ClientDomain, string ReversePath, IReadOnlyList<string> Recipients,
                                  string? ClientSoftware, string? TransactionId);

/// <summary>A complete message the adapter must store before the server may say 250.</summary>
public sealed record PendingDelivery(MailEnvelope Envelope, ReadOnlyMemory<byte> Message);

/// <summary>What the adapter's store did with a <see cref="PendingDelivery"/>.</summary>
public sealed record DeliveryResult(bool Success, string? QueueId, string? Error);

public enum ServerMode { Classic, Greetingless }

public sealed record ServerOptions
{
    public string HostName { get; init; } = "localhost";
    public string Software { get; init; } = "LatencySmtp/0.1.0";
    public SmtpLimits Limits { get; init; } = SmtpLimits.Rfc5321;
}
