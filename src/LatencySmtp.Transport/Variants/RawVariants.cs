using System.Net;
using LatencySmtp.Smtp;
using LatencySmtp.Tcp;
using LatencySmtp.Transport.Linux;
using LatencySmtp.Transport.Raw;

namespace LatencySmtp.Transport.Variants;

/// <summary>The T/TCP-style variants on the user-space TCP over raw sockets.</summary>
internal static class RawVariantOptions
{
    /// <summary>ttcp: RFC 1644 CC/TAO. ttcp-cookie: CC plus a server cookie, which alone admits SYN data (RFC 7413-style).</summary>
    public static TtcpOptions For(SmtpVariant variant) => variant switch
    {
        SmtpVariant.Ttcp => new TtcpOptions(),
        SmtpVariant.TtcpCookie => new TtcpOptions { UseCookie = true },
        _ => throw new ArgumentOutOfRangeException(nameof(variant)),
    };
}

internal sealed class RawVariantServer : IVariantServer
{
    private readonly RawTtcpServer _server;
    private readonly KernelSilencer? _silencer;
    private readonly PortReservation _reservation;   // no second server, raw or kernel, on this address and port

    private RawVariantServer(SmtpVariant variant, IPEndPoint endpoint, RawTtcpServer server, KernelSilencer? silencer,
        PortReservation reservation)
    {
        Variant = variant;
        Endpoint = endpoint;
        _server = server;
        _silencer = silencer;
        _reservation = reservation;
    }

    public SmtpVariant Variant { get; }
    public IPEndPoint Endpoint { get; }
    public long Delivered => _server.Delivered;
    public long Duplicates => _server.Duplicates;
    public RawTtcpServer Server => _server;

    public static RawVariantServer Start(SmtpVariant variant, ServerSetup setup) => Start(variant, setup, RawLink.Open);

    /// <param name="openLink">(namespace, interface, local address) to a link; tests pass their own</param>
    internal static RawVariantServer Start(SmtpVariant variant, ServerSetup setup, Func<string?, string, uint, ISegmentLink> openLink)
    {
        var iface = setup.Interface ?? NetNamespace.Run(setup.Namespace, () => Routes.InterfaceOf(setup.Listen.Address));
        var reservation = NetNamespace.Run(setup.Namespace, () => PortReservation.Take(setup.Listen));
        KernelSilencer? silencer = null;
        ISegmentLink? link = null;
        try
        {
            silencer = setup.SilenceKernel
                ? KernelSilencer.Install(setup.Namespace, iface, $"ip daddr {setup.Listen.Address} tcp dport {setup.Listen.Port}")
                : null;
            link = openLink(setup.Namespace, iface, Routes.ToUInt32(setup.Listen.Address));
            // From here the server owns the link; until then (its Maildir ledger may fail to open) we do.
            var server = new RawTtcpServer(link, (ushort)setup.Listen.Port, setup.Maildir, setup.Smtp, RawVariantOptions.For(variant), setup.Log);
            return new RawVariantServer(variant, setup.Listen, server, silencer, reservation);
        }
        catch
        {
            link?.Dispose();
            silencer?.Dispose();
            reservation.Dispose();
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        _server.Dispose();
        _silencer?.Dispose();
        _reservation.Dispose();
        return ValueTask.CompletedTask;
    }
}

internal sealed class RawVariantClient : IVariantClient
{
    private readonly ClientSetup _setup;
    private readonly RawTtcpClient _client;
    private readonly KernelSilencer? _silencer;

    private RawVariantClient(SmtpVariant variant, ClientSetup setup, RawTtcpClient client, KernelSilencer? silencer)
    {
        Variant = variant;
        _setup = setup;
        _client = client;
        _silencer = silencer;
    }

    public SmtpVariant Variant { get; }

    public static RawVariantClient Create(SmtpVariant variant, ClientSetup setup) => Create(variant, setup, RawLink.Open);

    /// <param name="openLink">(namespace, interface, local address) to a link; tests pass their own</param>
    internal static RawVariantClient Create(SmtpVariant variant, ClientSetup setup, Func<string?, string, uint, ISegmentLink> openLink)
    {
        var (source, iface) = setup.Source is { } s && setup.Interface is { } i ? (s, i) : Routes.RouteTo(setup.Server.Address, setup.Namespace);
        var silencer = setup.SilenceKernel
            ? KernelSilencer.Install(setup.Namespace, iface, $"ip saddr {setup.Server.Address} tcp sport {setup.Server.Port}")
            : null;
        ISegmentLink? link = null;
        RawTtcpClient? client = null;
        try
        {
            link = openLink(setup.Namespace, iface, Routes.ToUInt32(source));
            client = new RawTtcpClient(link, RawVariantOptions.For(variant));
            if (setup.StateFile is { } state) TtcpHostState.Load(client.Host, state);
            return new RawVariantClient(variant, setup, client, silencer);
        }
        catch
        {
            if (client is not null) client.Dispose();   // disposes the link too
            else link?.Dispose();
            silencer?.Dispose();
            throw;
        }
    }

    public Task<TransactionResult> SendAsync(ClientIdentity identity, MailRequest request, TimeSpan timeout, CancellationToken cancel)
    {
        var session = new ClientSession(identity, request, ClientMode.Greetingless);
        return Task.Run(() => _client.Run(Routes.ToUInt32(_setup.Server.Address), (ushort)_setup.Server.Port, session, timeout, cancel), cancel);
    }

    public void Dispose()
    {
        if (_setup.StateFile is { } state)
        {
            // Not fatal (the next send is a first contact, no more), but said: the user asked for the state to be kept.
            try { TtcpHostState.Save(_client.Host, state, [Routes.ToUInt32(_setup.Server.Address)]); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"warning: could not save the T/TCP state to {state} ({e.Message}); the next send to this server is a first contact");
            }
        }
        // The silencer stays until the last ACK is out: without it the kernel would answer a retransmitted FIN with a RST.
        if (_setup.TimeWaitLinger is { } linger) _client.LingerInTimeWait(linger);
        _client.Dispose();
        _silencer?.Dispose();
    }
}
