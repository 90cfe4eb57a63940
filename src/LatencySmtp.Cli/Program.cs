using System.CommandLine;
using LatencySmtp.Cli.Commands;

// The delay line runs as its own process inside the middle namespace (started by the testbed).
if (args.Length > 0 && args[0] == "__delay-line") return LatencySmtp.Testbed.DelayLineProgram.Main(args[1..]);

// Servers and clients share this process in experiments: a few blocking calls (fsync, TFO's first send)
// must not leave async work waiting for the thread pool's slow thread injection (~0.5 s per thread).
ThreadPool.GetMinThreads(out var workers, out var io);
ThreadPool.SetMinThreads(Math.Max(workers, 32), io);

var root = new RootCommand("latency-smtp: how many round trips does it take to hand a mail to a server, and how few can it take?");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(SendCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(AnalyzeCommand.Create());
root.Subcommands.Add(PlotCommand.Create());
root.Subcommands.Add(ReportCommand.Create());
root.Subcommands.Add(TestbedCommand.Create());
// First Ctrl-C or SIGTERM: cancel the running command so it finishes cleanly (results written, testbed
// removed); a second Ctrl-C stops at once (ProcessExit hooks still remove testbeds).
using var stop = new CancellationTokenSource();
var interrupts = 0;
Console.CancelKeyPress += (_, e) =>
{
    if (Interlocked.Increment(ref interrupts) > 1) return;
    e.Cancel = true;
    Console.Error.WriteLine("interrupted: stopping cleanly (Ctrl-C again to stop at once)");
    stop.Cancel();
};
using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    stop.Cancel();
});
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, stop.Token);
