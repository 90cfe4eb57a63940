using System.Net;
using LatencySmtp.Smtp;
using LatencySmtp.Transport.Kernel;

namespace LatencySmtp.Transport.Variants;

/// <summary>The variants that run over kernel TCP: one server type, the session mode decides the rest.</summary>
internal sealed class KernelVariantServer(SmtpVariant variant, KernelSmtpServer server) : IVariantServer
{
    public SmtpVariant Variant => variant;
    public IPEndPoint Endpoint => server.LocalEndPoint;
    public long Delivered => server.Delivered;
    public KernelSmtpServer Server => server;
    public long Duplicates => server.Duplicates;
    public ValueTask DisposeAsync() => server.DisposeAsync();

    public static KernelVariantServer Start(SmtpVariant variant, ServerSetup setup, ServerMode mode, bool fastOpen = false) =>
        new(variant, new KernelSmtpServer(new KernelServerOptions
        {
            Listen = setup.Listen, Namespace = setup.Namespace, Smtp = setup.Smtp, Mode = mode, FastOpen = fastOpen,
        }, setup.Maildir, setup.Log));
}

/// <summary>
/// A kernel TCP client. The kernel keeps the TFO cookie per destination in the client namespace's TCP
/// metrics (RFC 7413 §4.1), so a client needs no state of its own across transactions.
/// </summary>
internal sealed class KernelVariantClient(SmtpVariant variant, ClientSetup setup, ClientMode mode, bool fastOpen = false) : IVariantClient
{
    public SmtpVariant Variant => variant;

    public Task<TransactionResult> SendAsync(ClientIdentity identity, MailRequest request, TimeSpan timeout, CancellationToken cancel) =>
        KernelSmtpClient.RunAsync(setup.Server, new ClientSession(identity, request, mode), setup.Namespace, timeout, cancel, fastOpen);

    public void Dispose() { }
}
