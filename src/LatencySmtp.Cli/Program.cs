using System.CommandLine;
using LatencySmtp.Cli.Commands;

var root = new RootCommand("latency-smtp: how many round trips does it take to hand a mail to a server, and how few can it take?");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(SendCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(AnalyzeCommand.Create());
root.Subcommands.Add(PlotCommand.Create());
root.Subcommands.Add(TestbedCommand.Create());
return await root.Parse(args).InvokeAsync();
