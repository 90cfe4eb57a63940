using System.Net;
using LatencySmtp.Smtp;
using LatencySmtp.Transport.Delivery;

namespace LatencySmtp.Transport.Variants;

/// <summary>Where and how a variant's server runs.</summary>
/// <param name="Listen">address and port to serve on</param>
/// <param name="Namespace">network namespace to serve in (null: the current one)</param>
/// <param name="Interface">for raw variants: the interface that owns <paramref name="Listen"/>'s address (null: looked up)</param>
/// <param name="SilenceKernel">for raw variants: install the nft drop that keeps the kernel from answering (false where the testbed already did)</param>
public sealed record ServerSetup(IPEndPoint Listen, string? Namespace, Maildir Maildir, ServerOptions Smtp,
    string? Interface = null, bool SilenceKernel = true, TextWriter? Log = null);

/// <summary>Where and how a variant's client sends.</summary>
/// <param name="StateFile">for raw variants: keep the T/TCP host state (CCgen, TAO entry, cookie) in this file across processes</param>
/// <param name="TimeWaitLinger">for raw variants: on Dispose, keep answering retransmitted FINs this long at most
/// (<see cref="Raw.RawTtcpClient.LingerInTimeWait"/>); for a one-shot process, which cannot stay for the whole TIME-WAIT</param>
public sealed record ClientSetup(IPEndPoint Server, string? Namespace, string? Interface = null, IPAddress? Source = null,
    bool SilenceKernel = true, string? StateFile = null, TimeSpan? TimeWaitLinger = null);

/// <summary>A running server of one variant.</summary>
public interface IVariantServer : IAsyncDisposable
{
    SmtpVariant Variant { get; }
    IPEndPoint Endpoint { get; }
    long Delivered { get; }
    /// <summary>Requests answered with an earlier 250 because their TXID was seen before (never stored twice).</summary>
    long Duplicates => 0;
}

/// <summary>A client of one variant towards one server; it may keep state across transactions (TAO cache, TFO cookie).</summary>
public interface IVariantClient : IDisposable
{
    SmtpVariant Variant { get; }
    Task<TransactionResult> SendAsync(ClientIdentity identity, MailRequest request, TimeSpan timeout, CancellationToken cancel);
}
