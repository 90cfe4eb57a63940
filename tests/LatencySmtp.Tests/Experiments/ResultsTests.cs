using System.Text;
using LatencySmtp.Experiments.Results;
using LatencySmtp.Experiments.Running;

namespace LatencySmtp.Tests.Experiments;

public sealed class ResultsTests
{
    [Theory]
    [InlineData(300)]
    [InlineData(1024)]
    [InlineData(1025)]
    [InlineData(100_000)]
    public void Messages_have_the_exact_size_crlf_lines_and_no_line_over_78(int size)
    {
        var m = MessageFactory.Create(size, 1, "a@example.org", ["b@example.net"], "s");
        Assert.Equal(size, m.Length);
        var text = Encoding.ASCII.GetString(m);
        Assert.EndsWith("\r\n", text);
        Assert.DoesNotContain("\r\n.", text);
        Assert.Equal(text.Split("\r\n").Length - 1, text.Count(c => c == '\n'));
        Assert.All(text.Split("\r\n"), line => Assert.True(line.Length <= 78, line));
    }

    [Fact]
    public void Messages_are_deterministic_per_seed()
    {
        Assert.Equal(MessageFactory.Create(2000, 5, "a@x", ["b@y"], "s"), MessageFactory.Create(2000, 5, "a@x", ["b@y"], "s"));
        Assert.NotEqual(MessageFactory.Create(2000, 5, "a@x", ["b@y"], "s"), MessageFactory.Create(2000, 6, "a@x", ["b@y"], "s"));
    }

    [Fact]
    public void Percentiles_interpolate_like_numpy()
    {
        double[] v = [1, 2, 3, 4, 10];
        Assert.Equal(3, Statistics.Median(v));
        Assert.Equal(1.4, Statistics.Percentile(v, 10), 9);
        Assert.Equal(7.6, Statistics.Percentile(v, 90), 9);
        Assert.True(double.IsNaN(Statistics.Median([])));
    }

    [Fact]
    public void Transactions_csv_round_trips_and_summary_counts_only_accepted()
    {
        var rows = new List<TransactionRow>
        {
            new("classic", 50, 1024, 1, 0, 0, 351.5, 7.03, 22, 1800, "accepted", 7, 351.2, 7, "ok", null),
            new("classic", 50, 1024, 1, 0, 1, double.NaN, double.NaN, null, null, "failed", 7, null, null, "missing", "timed out, \"really\""),
            new("ttcp", 50, 1024, 1, 0, 0, 50.8, 1.016, 3, 1400, "accepted", 1, 50.6, 1, "ok", null),
        };
        var dir = Directory.CreateTempSubdirectory("lsm-csv-").FullName;
        try
        {
            var path = Path.Combine(dir, "transactions.csv");
            CsvFiles.WriteTransactions(path, rows);
            var back = CsvFiles.ReadTransactions(path);
            Assert.Equal(3, back.Count);
            Assert.Equal(rows[0], back[0]);
            Assert.Equal("timed out, \"really\"", back[1].Error);
            Assert.True(double.IsNaN(back[1].AcceptMs));
            var summary = Statistics.Summarise(back, _ => 1).ToDictionary(s => s.Variant);
            Assert.Equal(2, summary["classic"].N);
            Assert.Equal(1, summary["classic"].Accepted);
            Assert.Equal(351.5, summary["classic"].MedianAcceptMs);
            Assert.Equal(7, summary["classic"].ModelRttCount);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
