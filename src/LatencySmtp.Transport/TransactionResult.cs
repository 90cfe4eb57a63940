using LatencySmtp.Smtp;

namespace LatencySmtp.Transport;

/// <summary>What one client transaction yields, as the client saw it.</summary>
/// <param name="AcceptMs">From the start of the connection (connect() or the first SYN) to the moment the
/// client holds the 250 accepting the message; NaN when the message was not accepted.</param>
public sealed record TransactionResult(
    ClientOutcome Outcome,
    double AcceptMs,
    double TotalMs,
    ushort LocalPort,
    SmtpReply? FinalReply,
    string? ServerIdentity,
    string? Error,
    IReadOnlyList<(string Recipient, SmtpReply Reply)>? RefusedRecipients = null)
{
    public bool Accepted => Outcome == ClientOutcome.Accepted;

    /// <summary>Short word for CSV files: accepted, accepted-partial (some recipients refused), rejected-550, failed.</summary>
    public string OutcomeLabel => Outcome switch
    {
        ClientOutcome.Accepted => RefusedRecipients is { Count: > 0 } ? "accepted-partial" : "accepted",
        ClientOutcome.Rejected => $"rejected-{FinalReply?.Code}",
        _ => "failed",
    };
}
