using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/LatencySmtp.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
