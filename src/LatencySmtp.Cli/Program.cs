if (args.Length > 0 && args[0] == "__delay-line") return LatencySmtp.Testbed.DelayLineProgram.Main(args[1..]);
Console.WriteLine("latency-smtp");
return 0;
