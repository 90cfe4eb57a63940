using LatencySmtp.Experiments.Results;

namespace LatencySmtp.Tests.Experiments;

public sealed class PaperTablesTests
{
    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "LatencySmtp.sln"))) return d.FullName;
        throw new DirectoryNotFoundException("no LatencySmtp.sln above " + AppContext.BaseDirectory);
    }

    /// <summary>
    /// The committed tree, unpacked with 'git archive HEAD' so that a local rerun (README's first command
    /// rewrites results/quick/) does not change what is checked; the working tree where there is no git.
    /// </summary>
    private static string CommittedTree(string root, out bool fromGit)
    {
        var dir = Directory.CreateTempSubdirectory("lsm-committed-").FullName;
        var git = LatencySmtp.Transport.Linux.HostCommand.TryRun("sh", ["-c", $"git -C '{root}' archive HEAD paper-notes.md results | tar -x -C '{dir}'"]);
        fromGit = git.ExitCode == 0 && File.Exists(Path.Combine(dir, "paper-notes.md"));
        if (fromGit) return dir;
        Directory.Delete(dir, true);
        return root;
    }

    /// <summary>paper-notes.md pastes no number by hand: each marked table and captured example is what 'latency-smtp report' makes of the committed results.</summary>
    [Fact]
    public void Paper_notes_tables_are_the_committed_results()
    {
        var tree = CommittedTree(RepositoryRoot(), out var fromGit);
        try
        {
            var doc = File.ReadAllText(Path.Combine(tree, "paper-notes.md"));
            var regenerated = PaperTables.UpdateDocument(doc, tree, out var tables, out var captures);
            Assert.True(tables >= 4, $"only {tables} marked tables in paper-notes.md");
            Assert.True(captures >= 1, $"only {captures} captured examples in paper-notes.md");
            Assert.True(doc == regenerated, "paper-notes.md tables or captured examples differ from results/ (as committed): run 'latency-smtp report --update paper-notes.md' and commit both");
        }
        finally
        {
            if (fromGit) Directory.Delete(tree, true);
        }
    }

    private static string Folder(string summary, string transactions)
    {
        var dir = Directory.CreateTempSubdirectory("lsm-tables-").FullName;
        File.WriteAllText(Path.Combine(dir, "summary.csv"), summary);
        File.WriteAllText(Path.Combine(dir, "transactions.csv"), transactions);
        return dir;
    }

    [Fact]
    public void Transaction_table_keeps_varying_dimensions_and_counts_trace_agreement()
    {
        var s = string.Join('\n', string.Join(',', CsvFiles.SummaryColumns),
            "ttcp,50,1024,1,0,repeat,2,2,2,2,0,52.5,52.1,53,1.05,1,3,1308",
            "ttcp,50,1024,1,0.05,repeat,2,2,1,1,0,1051.26,52,1100,21.026,1,5,1309") + "\n";
        var t = string.Join('\n', string.Join(',', CsvFiles.TransactionColumns),
            "ttcp,50,1024,1,0,0,52.1,1.042,3,1308,accepted,1,52.2,1,ok,,repeat",
            "ttcp,50,1024,1,0,1,53,1.06,3,1308,accepted,1,55,1,differs-+2ms,,repeat",
            "ttcp,50,1024,1,0.05,0,1051.26,21.026,5,1309,accepted,1,1051.3,1,ok,,repeat",
            "ttcp,50,1024,1,0.05,1,,,,,failed,1,,,,timeout,repeat") + "\n";
        var dir = Folder(s, t);
        try
        {
            var lines = PaperTables.ForTransactions(dir).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("| loss each way | variant | sent | accepted | delivered | dup | median ms | p10 ms | p90 ms | median rtt_count | model | segments | trace = client |", lines[0]);
            Assert.Equal("| 0 % | ttcp | 2 | 2 | 2 | 0 | 52.5 | 52.1 | 53.0 | 1.05 | 1 | 3 | 1/2 |", lines[2]);
            Assert.Equal("| 5 % | ttcp | 2 | 1 | 1 | 0 | 1051.3 | 52.0 | 1100.0 | 21.03 | 1 | 5 | 1/2 |", lines[3]);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>Adversarial review: a word in a count column went into the paper's table unchecked.</summary>
    [Theory]
    [InlineData("ttcp,50,1024,1,0,repeat,2,2,lots,2,0,52.5,52.1,53,1.05,1,3,1308", "accepted")]
    [InlineData("ttcp,50,1024,1,0,repeat,2,2,2,-1,0,52.5,52.1,53,1.05,1,3,1308", "delivered")]
    [InlineData("ttcp,50,1024,1,0,repeat,2,2,2,2,0,52.5,52.1,53,1.05,one,3,1308", "model_rtt_count")]
    public void A_cell_that_is_not_a_number_is_an_error_naming_its_column(string summaryRow, string column)
    {
        var s = string.Join('\n', string.Join(',', CsvFiles.SummaryColumns), summaryRow) + "\n";
        var t = string.Join('\n', string.Join(',', CsvFiles.TransactionColumns), "ttcp,50,1024,1,0,0,52.1,1.042,3,1308,accepted,1,52.2,1,ok,,repeat") + "\n";
        var dir = Folder(s, t);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => PaperTables.ForTransactions(dir));
            Assert.Contains(column, e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>Adversarial review: a CRLF document's closed block was reported as unclosed.</summary>
    [Fact]
    public void A_CRLF_document_is_updated_and_keeps_its_line_ends()
    {
        var s = string.Join('\n', string.Join(',', CsvFiles.SummaryColumns), "ttcp,50,1024,1,0,repeat,2,2,2,2,0,52.5,52.1,53,1.05,1,3,1308") + "\n";
        var t = string.Join('\n', string.Join(',', CsvFiles.TransactionColumns), "ttcp,50,1024,1,0,0,52.1,1.042,3,1308,accepted,1,52.2,1,ok,,repeat") + "\n";
        var dir = Folder(s, t);
        try
        {
            var doc = $"# notes\r\n<!-- table: {dir} -->\r\nold\r\n<!-- /table -->\r\nend\r\n";
            var updated = PaperTables.UpdateDocument(doc, "/", out var tables);
            Assert.Equal(1, tables);
            Assert.Contains("| ttcp | 2 | 2 | 2 | 0 |", updated);
            Assert.DoesNotContain("old", updated);
            Assert.DoesNotMatch("[^\r]\n", updated);                       // every line still ends in CRLF
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Unclosed_marker_is_an_error_not_a_silent_skip()
    {
        Assert.Throws<FormatException>(() => PaperTables.UpdateDocument("<!-- table: results/x -->\n| a |\n", "/nonexistent", out _));
    }
}
