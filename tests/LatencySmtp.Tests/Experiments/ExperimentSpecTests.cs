using LatencySmtp.Experiments.Specs;
using LatencySmtp.Transport;

namespace LatencySmtp.Tests.Experiments;

public sealed class ExperimentSpecTests
{
    [Fact]
    public void Parses_the_quick_spec_format()
    {
        var spec = ExperimentSpec.Parse("""
            name = "quick"
            variants = ["classic", "ttcp"]
            rtt_ms = [50]
            size_bytes = [1024]
            recipients = [1, 3]
            loss = [0.0]
            repetitions = 20
            seed = 7
            """, "x");
        Assert.Equal("quick", spec.Name);
        Assert.Equal([SmtpVariant.Classic, SmtpVariant.Ttcp], spec.Variants);
        Assert.Equal([1, 3], spec.Recipients);
        Assert.Equal(20, spec.Repetitions);
        Assert.Equal(7, spec.Seed);
        Assert.Equal(4, spec.CellCount);
    }

    [Theory]
    [InlineData("variants = [\"carrier-pigeon\"]", "unknown variant")]
    [InlineData("variants = [\"classic\"]\nrepetitions = 0", "repetitions")]
    [InlineData("variants = [\"classic\"]\nrtt = [5]", "unknown key 'rtt'")]
    [InlineData("rtt_ms = [5]", "'variants' is required")]
    [InlineData("variants = [\"classic\"]\nloss = [1.5]", "loss")]
    public void Rejects_bad_specs_with_a_clear_message(string toml, string expected)
    {
        var e = Assert.Throws<ExperimentSpecException>(() => ExperimentSpec.Parse(toml, "x"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Rejects_malformed_toml_without_crashing()
    {
        Assert.ThrowsAny<Exception>(() => ExperimentSpec.Parse("variants = [", "x"));
    }
}
