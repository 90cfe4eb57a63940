using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using LatencySmtp.Experiments.Specs;

namespace LatencySmtp.Experiments.Running;

/// <summary>run.json: how a result folder was produced (machine, versions, seed, emulator, times).</summary>
public sealed record RunInfo
{
    public required string Experiment { get; init; }
    public string? SpecFile { get; init; }
    public required string CommandLine { get; init; }
    public required DateTimeOffset StartedUtc { get; init; }
    public DateTimeOffset EndedUtc { get; set; }
    public required int Seed { get; init; }
    /// <summary>The link emulator the testbeds used (from Testbed.EmulatorBackend); "none" until one was built.</summary>
    public required string EmulatorBackend { get; set; }
    public required MachineInfo Machine { get; init; }
    public required VersionInfo Versions { get; init; }
    public required ExperimentSpec Spec { get; init; }
    public bool Interrupted { get; set; }
    public long Transactions { get; set; }
    public long Accepted { get; set; }
    public long Delivered { get; set; }
    public List<string> Captures { get; init; } = [];
    public List<string> Notes { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public void Write(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");
}

public sealed record MachineInfo(string Hostname, string Kernel, string Os, string Cpu, int Cores, long MemoryBytes)
{
    public static MachineInfo Current()
    {
        var cpu = "unknown";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException) { }
        var kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : RuntimeInformation.OSDescription;
        return new MachineInfo(Environment.MachineName, kernel, RuntimeInformation.OSDescription, cpu, Environment.ProcessorCount,
            GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
    }
}

public sealed record VersionInfo(string Tool, string Dotnet, string? GitCommit, bool? GitDirty)
{
    public static VersionInfo Current()
    {
        var tool = typeof(RunInfo).Assembly.GetName().Version?.ToString() ?? "0";
        string? commit = Git("rev-parse HEAD");
        // Dirty = tracked files other than results/ differ from the commit (runs rewrite results/ themselves).
        bool? dirty = commit is null ? null : !string.IsNullOrWhiteSpace(Git("status --porcelain --untracked-files=no -- . :!results"));
        return new VersionInfo(tool, RuntimeInformation.FrameworkDescription, commit?.Trim(), dirty);
    }

    private static string? Git(string args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("git", args)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                WorkingDirectory = Environment.CurrentDirectory,
            });
            if (p is null) return null;
            var output = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(5000)) { p.Kill(); return null; }
            return p.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
