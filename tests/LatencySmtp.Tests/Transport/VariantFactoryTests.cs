using System.Net;
using LatencySmtp.Transport;
using LatencySmtp.Transport.Variants;

namespace LatencySmtp.Tests.Transport;

public sealed class VariantFactoryTests
{
    [Theory]
    [InlineData(SmtpVariant.Classic)]
    [InlineData(SmtpVariant.Pipelined)]
    [InlineData(SmtpVariant.EarlyPipe)]
    [InlineData(SmtpVariant.Tfo)]
    public void Kernel_variants_are_implemented_and_their_clients_need_no_privileges(SmtpVariant v)
    {
        Assert.True(v.IsImplemented());
        Assert.False(v.IsRaw());
        using var client = VariantFactory.CreateClient(v, new ClientSetup(new IPEndPoint(IPAddress.Loopback, v.DefaultPort()), null));
        Assert.Equal(v, client.Variant);
    }

    [Fact]
    public void Each_variant_has_its_own_default_port_so_greetingless_listeners_never_share_the_classic_one()
    {
        var ports = Enum.GetValues<SmtpVariant>().Select(v => v.DefaultPort()).ToList();
        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.Equal(2525, SmtpVariant.Classic.DefaultPort());
        Assert.Equal(2527, SmtpVariant.EarlyPipe.DefaultPort());
        Assert.Equal(2528, SmtpVariant.Tfo.DefaultPort());
    }

    [Fact]
    public void The_model_matches_DESIGN_md()
    {
        Assert.Equal([7, 4, 2, 1], new[] { SmtpVariant.Classic, SmtpVariant.Pipelined, SmtpVariant.EarlyPipe, SmtpVariant.Tfo }.Select(v => v.ModelRoundTrips(1)));
        Assert.Equal(9, SmtpVariant.Classic.ModelRoundTrips(3));
        Assert.Equal(4, SmtpVariant.Pipelined.ModelRoundTrips(3));
    }
}
