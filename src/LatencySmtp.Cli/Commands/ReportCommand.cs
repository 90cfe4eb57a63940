using System.CommandLine;
using LatencySmtp.Experiments.Results;

namespace LatencySmtp.Cli.Commands;

/// <summary>Markdown tables for the paper from result folders; --update rewrites the marked tables and captured examples of a document in place.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var folders = new Argument<string[]>("results") { Description = "result folders (e.g. results/quick)", Arity = ArgumentArity.ZeroOrMore };
        var update = new Option<string?>("--update")
        {
            Description = "rewrite every '<!-- table: FOLDER -->' ... '<!-- /table -->' and '<!-- capture: PCAP [variant=V] [waits=N] -->' ... '<!-- /capture -->' " +
                "block of this markdown file (paths relative to the file; a capture block shows the first matching connection)",
        };
        var cmd = new Command("report", "Print paper-ready markdown tables made from result folders") { folders, update };
        cmd.SetAction(pr => Endpoints.Guard(() =>
        {
            if (pr.GetValue(update) is { } doc)
            {
                var text = File.ReadAllText(doc);
                var updated = PaperTables.UpdateDocument(text, Path.GetDirectoryName(Path.GetFullPath(doc))!, out var n, out var captures);
                if (updated != text) File.WriteAllText(doc, updated);
                Console.WriteLine($"{doc}: {n} table(s) and {captures} captured example(s) regenerated{(updated == text ? ", none changed" : "")}");
            }
            foreach (var f in pr.GetValue(folders) ?? [])
            {
                Console.WriteLine($"<!-- table: {f.TrimEnd('/')} -->");
                Console.Write(PaperTables.For(f));
                Console.WriteLine("<!-- /table -->");
            }
            return Task.FromResult(0);
        }));
        return cmd;
    }
}
