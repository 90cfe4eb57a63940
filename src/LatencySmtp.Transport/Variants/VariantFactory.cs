using LatencySmtp.Smtp;

namespace LatencySmtp.Transport.Variants;

/// <summary>One place that knows which transport and session mode make up each variant (DESIGN.md, "The variants").</summary>
public static class VariantFactory
{
    public static IVariantServer StartServer(SmtpVariant variant, ServerSetup setup) => variant switch
    {
        SmtpVariant.Classic or SmtpVariant.Pipelined => KernelVariantServer.Start(variant, setup, ServerMode.Classic),
        // Greeting-less requests have their own listener (port), never the classic one (README, "Greeting-less requests").
        SmtpVariant.EarlyPipe => KernelVariantServer.Start(variant, setup, ServerMode.Greetingless),
        SmtpVariant.Tfo => KernelVariantServer.Start(variant, setup, ServerMode.Greetingless, fastOpen: true),
        SmtpVariant.Ttcp or SmtpVariant.TtcpCookie => RawVariantServer.Start(variant, setup),
        _ => throw NotYet(variant),
    };

    public static IVariantClient CreateClient(SmtpVariant variant, ClientSetup setup) => variant switch
    {
        SmtpVariant.Classic => new KernelVariantClient(variant, setup, ClientMode.Classic),
        SmtpVariant.Pipelined => new KernelVariantClient(variant, setup, ClientMode.Pipelined),
        SmtpVariant.EarlyPipe => new KernelVariantClient(variant, setup, ClientMode.Greetingless),
        SmtpVariant.Tfo => new KernelVariantClient(variant, setup, ClientMode.Greetingless, fastOpen: true),
        SmtpVariant.Ttcp or SmtpVariant.TtcpCookie => RawVariantClient.Create(variant, setup),
        _ => throw NotYet(variant),
    };

    /// <summary>Variants whose server is the user-space TCP: the kernels around them must be silenced.</summary>
    public static bool IsRaw(this SmtpVariant variant) => variant is SmtpVariant.Ttcp or SmtpVariant.TtcpCookie;

    private static NotSupportedException NotYet(SmtpVariant v) => new($"variant {v.Name()} is not implemented yet");
}
