using LatencySmtp.Experiments.Results;
using LatencySmtp.Experiments.Running;
using LatencySmtp.Experiments.Specs;

namespace LatencySmtp.IntegrationTests.Experiments;

/// <summary>
/// Reduced runs of the committed first-contact and loss specs through the same runner as the reference
/// runs: the per-cell counts (sent, accepted, delivered, duplicates) and the round-trip model.
/// </summary>
public sealed class FirstContactAndLossExperimentTests
{
    private static ExperimentSpec Spec(string name) => ExperimentSpec.Load(Path.Combine(AppContext.BaseDirectory, "experiments", name + ".toml"));

    private static async Task<ExperimentOutcome> RunAsync(ExperimentSpec spec, Action<ExperimentOutcome, string> check)
    {
        var output = Directory.CreateTempSubdirectory("lsm-" + spec.Name + "-").FullName;
        try
        {
            var outcome = await new ExperimentRunner(spec, output, TextWriter.Null).RunAsync(["test"], CancellationToken.None);
            check(outcome, output);
            return outcome;
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public async Task First_contact_costs_one_round_trip_more_than_repeat_and_delivers_once()
    {
        var spec = Spec("first-contact") with { Repetitions = 3, GapMs = 5 };
        await RunAsync(spec, (outcome, output) =>
        {
            var summary = CsvFiles.ReadTable(Path.Combine(output, "summary.csv"));
            Assert.Equal(spec.Variants.Count * 2, summary.Count);
            foreach (var cell in summary)
            {
                var where = $"{cell["variant"]} {cell["contact"]}";
                Assert.True(cell["sent"] == "3" && cell["accepted"] == "3" && cell["delivered"] == "3" && cell["duplicates"] == "0",
                    $"{where}: sent {cell["sent"]} accepted {cell["accepted"]} delivered {cell["delivered"]} duplicates {cell["duplicates"]}");
                var model = cell["contact"] == "first" ? 2 : 1;
                Assert.Equal(model.ToString(System.Globalization.CultureInfo.InvariantCulture), cell["model_rtt_count"]);
                var median = double.Parse(cell["median_rtt_count"], System.Globalization.CultureInfo.InvariantCulture);
                Assert.True(median >= model * 0.99 && median <= model * 1.1, $"{where}: median rtt_count {median}, model {model}");
            }
            // The capture agrees: a first contact waits twice, a repeat once.
            Assert.All(outcome.Transactions, r => Assert.Equal(r.Contact == "first" ? 2 : 1, r.TraceClientWaits));
        });
    }

    [Fact]
    public async Task Under_loss_every_mail_is_accepted_and_delivered_exactly_once()
    {
        // 10 % loss each way, the spec's worst cell: at 3-21 segments a transaction some lose a segment,
        // and recovery must deliver once (RTO back-off within the spec's timeout) or fail loudly.
        var spec = Spec("loss") with { Loss = [0.1], Repetitions = 6, GapMs = 5 };
        await RunAsync(spec, (outcome, output) =>
        {
            foreach (var cell in outcome.Summary)
            {
                Assert.Equal(6, cell.Sent);
                Assert.Equal(0, cell.Duplicates);
                // Accepted mails are in the Maildir, and nothing else is: no loss of an accepted mail, no second copy.
                Assert.True(cell.Delivered == cell.Accepted, $"{cell.Variant}: accepted {cell.Accepted}, delivered {cell.Delivered}");
                Assert.True(cell.Accepted == cell.Sent, $"{cell.Variant}: {cell.Sent - cell.Accepted} not accepted: " +
                    string.Join("; ", outcome.Transactions.Where(r => r.Variant == cell.Variant && r.Outcome != "accepted").Select(r => r.Error)));
            }
            Assert.Contains("\"emulator_backend\"", File.ReadAllText(Path.Combine(output, "run.json")));
        });
    }
}
