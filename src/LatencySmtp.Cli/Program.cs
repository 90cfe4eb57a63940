using System.CommandLine;
using LatencySmtp.Cli.Commands;

// The delay line runs as its own process inside the middle namespace (started by the testbed).
if (args.Length > 0 && args[0] == "__delay-line") return LatencySmtp.Testbed.DelayLineProgram.Main(args[1..]);

var root = new RootCommand("latency-smtp: how many round trips does it take to hand a mail to a server, and how few can it take?");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(SendCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(AnalyzeCommand.Create());
root.Subcommands.Add(PlotCommand.Create());
root.Subcommands.Add(TestbedCommand.Create());
return await root.Parse(args).InvokeAsync();
