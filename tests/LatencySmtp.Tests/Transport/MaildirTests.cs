using LatencySmtp.Transport;
using LatencySmtp.Transport.Delivery;

namespace LatencySmtp.Tests.Transport;

public sealed class MaildirTests
{
    [Fact]
    public void Delivers_into_new_with_unique_names_and_leaves_tmp_empty()
    {
        var root = Directory.CreateTempSubdirectory("lsm-maildir-").FullName;
        try
        {
            var box = new Maildir(root);
            var a = box.Deliver("first\r\n"u8);
            var b = box.Deliver("second\r\n"u8);
            Assert.NotEqual(a, b);
            Assert.Equal(2, box.NewMessages().Count);
            Assert.Empty(Directory.GetFiles(Path.Combine(root, "tmp")));
            Assert.Equal("first\r\n"u8.ToArray(), File.ReadAllBytes(Path.Combine(root, "new", a)));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void Variant_names_round_trip_and_model_matches_design()
    {
        foreach (var v in Enum.GetValues<SmtpVariant>()) Assert.Equal(v, SmtpVariants.Parse(v.Name()));
        Assert.Throws<ArgumentException>(() => SmtpVariants.Parse("smtp-over-avian-carrier"));
        Assert.Equal(7, SmtpVariant.Classic.ModelRoundTrips(1));
        Assert.Equal(9, SmtpVariant.Classic.ModelRoundTrips(3));
        Assert.Equal(1, SmtpVariant.Ttcp.ModelRoundTrips(3));
        Assert.Equal(2, SmtpVariant.EarlyPipe.ModelRoundTrips(1));
    }
}
