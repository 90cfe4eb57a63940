namespace LatencySmtp.Experiments.Results;

/// <summary>One mail transaction, one row of transactions.csv (columns as DESIGN.md, then trace cross-checks).</summary>
public sealed record TransactionRow(
    string Variant,
    double RttMs,
    int SizeBytes,
    int Recipients,
    double Loss,
    int Rep,
    double AcceptMs,
    double RttCount,
    int? Segments,
    long? Bytes,
    string Outcome,
    int ModelRttCount,
    double? TraceAcceptMs,
    int? TraceClientWaits,
    string TraceCheck,
    string? Error,
    string Contact = "repeat");

/// <summary>One cell of the experiment grid, one row of summary.csv.</summary>
public sealed record SummaryRow(
    string Variant,
    double RttMs,
    int SizeBytes,
    int Recipients,
    double Loss,
    int N,
    int Accepted,
    long Delivered,
    double MedianAcceptMs,
    double P10AcceptMs,
    double P90AcceptMs,
    double MedianRttCount,
    int ModelRttCount,
    double? MedianSegments,
    double? MedianBytes,
    string Contact = "repeat",
    long Duplicates = 0)
{
    /// <summary>Transactions the client started (= <see cref="N"/>), under the name the issue uses.</summary>
    public int Sent => N;
}
