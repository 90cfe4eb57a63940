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
    // Adversarial review: each of these ran (or failed late, after the testbed was built) before.
    [InlineData("name = \"../../escaped\"\nvariants = [\"classic\"]", "'name'")]
    [InlineData("name = \"/tmp/abs\"\nvariants = [\"classic\"]", "'name'")]
    [InlineData("name = \"\"\nvariants = [\"classic\"]", "'name'")]
    [InlineData("name = \"x\\ny\"\nvariants = [\"classic\"]", "'name'")]
    [InlineData("name = 5\nvariants = [\"classic\"]", "'name' must be a string")]
    [InlineData("variants = [\"classic\"]\nrepetitions = \"two\"", "'repetitions' must be a number")]
    [InlineData("variants = [\"classic\", \"classic\"]", "twice")]
    [InlineData("variants = [\"classic\"]\nrtt_ms = []", "'rtt_ms' is empty")]
    [InlineData("variants = [\"classic\"]\nsize_bytes = []", "'size_bytes' is empty")]
    [InlineData("variants = [\"classic\"]\nrtt_ms = [nan]", "rtt_ms")]
    [InlineData("variants = [\"classic\"]\nloss = [nan]", "loss")]
    [InlineData("variants = [\"classic\"]\ntimeout_s = nan", "timeout_s")]
    [InlineData("variants = [\"classic\"]\ntimeout_s = 0", "timeout_s")]
    [InlineData("variants = [\"classic\"]\ntimeout_s = 1e300", "timeout_s")]
    [InlineData("variants = [\"classic\"]\ngap_ms = 1e300", "gap_ms")]
    [InlineData("variants = [\"classic\"]\nsize_bytes = [1.5]", "whole numbers")]
    [InlineData("variants = [\"classic\"]\nsize_bytes = [52428800]", "SIZE limit")]
    [InlineData("variants = [\"classic\"]\nrecipients = [101]", "recipient limit")]
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

public sealed class ContactSpecTests
{
    [Fact]
    public void Contact_defaults_to_repeat_and_orders_first_before_repeat()
    {
        Assert.Equal([Contact.Repeat], ExperimentSpec.Parse("variants = [\"ttcp\"]", "x").Contact);
        var spec = ExperimentSpec.Parse("variants = [\"ttcp\", \"ttcp-cookie\"]\ncontact = [\"repeat\", \"first\"]", "x");
        Assert.Equal([Contact.First, Contact.Repeat], spec.Contact);
        Assert.Equal(4, spec.CellCount);
        var e = Assert.Throws<ExperimentSpecException>(() => ExperimentSpec.Parse("variants = [\"ttcp\"]\ncontact = [\"lukewarm\"]", "x"));
        Assert.Contains("unknown contact", e.Message);
    }

    [Fact]
    public void First_contact_models_two_round_trips_for_the_accelerated_opens_only()
    {
        Assert.Equal(2, LatencySmtp.Experiments.Running.ExperimentRunner.ModelRoundTrips(SmtpVariant.TtcpCookie, 1, Contact.First));
        Assert.Equal(1, LatencySmtp.Experiments.Running.ExperimentRunner.ModelRoundTrips(SmtpVariant.TtcpCookie, 1, Contact.Repeat));
        Assert.Equal(7, LatencySmtp.Experiments.Running.ExperimentRunner.ModelRoundTrips(SmtpVariant.Classic, 1, Contact.First));
    }

    [Fact]
    public void Summary_has_contact_sent_delivered_and_duplicates_per_cell()
    {
        var rows = new List<LatencySmtp.Experiments.Results.TransactionRow>
        {
            new("ttcp", 50, 1024, 1, 0, 0, 101, 2.02, 5, 1400, "accepted", 2, 101, 2, "ok", null, "first"),
            new("ttcp", 50, 1024, 1, 0, 0, 51, 1.02, 3, 1400, "accepted", 1, 51, 1, "ok", null, "repeat"),
            new("ttcp", 50, 1024, 1, 0, 1, 52, 1.04, 3, 1400, "accepted", 1, 52, 1, "ok", null, "repeat"),
        };
        var dir = Directory.CreateTempSubdirectory("lsm-csv-").FullName;
        try
        {
            var summary = LatencySmtp.Experiments.Results.Statistics.Summarise(rows, r => r.Contact == "first" ? 1 : 2, r => r.Contact == "first" ? 0 : 1);
            LatencySmtp.Experiments.Results.CsvFiles.WriteSummary(Path.Combine(dir, "summary.csv"), summary);
            var lines = File.ReadAllLines(Path.Combine(dir, "summary.csv"));
            Assert.StartsWith("variant,rtt_ms,size_bytes,recipients,loss,contact,n,sent,accepted,delivered,duplicates,", lines[0]);
            Assert.StartsWith("ttcp,50,1024,1,0,first,1,1,1,1,0,101,", lines[1]);
            Assert.StartsWith("ttcp,50,1024,1,0,repeat,2,2,2,2,1,", lines[2]);
            var tx = Path.Combine(dir, "transactions.csv");
            LatencySmtp.Experiments.Results.CsvFiles.WriteTransactions(tx, rows);
            Assert.Equal(rows, LatencySmtp.Experiments.Results.CsvFiles.ReadTransactions(tx));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
