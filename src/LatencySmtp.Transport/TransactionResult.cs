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
    string? Error)
{
    public bool Accepted => Outcome == ClientOutcome.Accepted;

    /// <summary>Short word for CSV files: accepted, rejected-550, failed.</summary>
    public string OutcomeLabel => Outcome switch
    {
        ClientOutcome.Accepted => "accepted",
        ClientOutcome.Rejected => $"rejected-{FinalReply?.Code}",
        _ => "failed",
    };
}
