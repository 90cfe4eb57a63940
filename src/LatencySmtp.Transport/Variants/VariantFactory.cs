using LatencySmtp.Smtp;

namespace LatencySmtp.Transport.Variants;

/// <summary>One place that knows which transport and session mode make up each variant (DESIGN.md, "The variants").</summary>
public static class VariantFactory
{
    public static IVariantServer StartServer(SmtpVariant variant, ServerSetup setup) => variant switch
    {
        SmtpVariant.Classic => KernelVariantServer.Start(variant, setup, ServerMode.Classic),
        SmtpVariant.Ttcp or SmtpVariant.TtcpCookie => RawVariantServer.Start(variant, setup),
        _ => throw NotYet(variant),
    };

    public static IVariantClient CreateClient(SmtpVariant variant, ClientSetup setup) => variant switch
    {
        SmtpVariant.Classic => new KernelVariantClient(variant, setup, ClientMode.Classic),
        SmtpVariant.Ttcp or SmtpVariant.TtcpCookie => RawVariantClient.Create(variant, setup),
        _ => throw NotYet(variant),
    };

    /// <summary>Variants whose server is the user-space TCP: the kernels around them must be silenced.</summary>
    public static bool IsRaw(this SmtpVariant variant) => variant is SmtpVariant.Ttcp or SmtpVariant.TtcpCookie;

    private static NotSupportedException NotYet(SmtpVariant v) => new($"variant {v.Name()} is not implemented yet");
}
