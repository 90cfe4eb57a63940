using System.Diagnostics;
using System.Globalization;
using System.Net;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Testbed;

/// <summary>
/// Three network namespaces, client - middle - server, joined by two veth pairs; the middle emulates the
/// link: netem on its two veths behind a bridge where the kernel has netem, else the user-space delay
/// line, which ferries frames between its two interfaces. Either way client and server share one
/// emulated /24 link. Create builds it (and removes what it built when a step fails); Dispose,
/// ProcessExit and Ctrl+C tear it down; <see cref="RemoveStale"/> removes what a killed process left.
/// </summary>
public sealed class Testbed : IDisposable
{
    public const string UserspaceDelayLineBackend = Emulator.UserspaceDelayLineBackend;
    public const string NetemBackend = Emulator.NetemBackend;
    public const string BridgeName = "br0";
    public const int PrefixLength = 24;
    // 10.217.83.0/24: unusual enough not to meet a real network; namespaces isolate testbeds from each other.
    private const uint Subnet = 0x0AD95300;
    private static readonly byte[] ClientMac = [0x02, 0x4c, 0x53, 0x00, 0x00, 0x01];
    private static readonly byte[] ServerMac = [0x02, 0x4c, 0x53, 0x00, 0x00, 0x02];
    private static readonly byte[] MiddleClientSideMac = [0x02, 0x4c, 0x53, 0x00, 0x01, 0x01];
    private static readonly byte[] MiddleServerSideMac = [0x02, 0x4c, 0x53, 0x00, 0x01, 0x02];
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    private readonly object gate = new();
    private readonly Queue<string> delayLineLog = new();
    private Process? delayLine;
    private EventHandler? processExitHook;
    private ConsoleCancelEventHandler? cancelKeyHook;
    private bool disposed;
    private readonly bool netemSeed;

    private Testbed(string name, TestbedOptions options, string backend, EmulatorProbe probe)
    {
        EmulatorBackend = backend;
        EmulatorEvidence = probe.Evidence;
        netemSeed = probe.NetemSeed;
        Name = name;
        Options = options;
        ClientNamespace = TestbedNames.ClientNamespace(name);
        MiddleNamespace = TestbedNames.MiddleNamespace(name);
        ServerNamespace = TestbedNames.ServerNamespace(name);
        NftTableName = options.RawServerPorts.Count > 0 ? TestbedNames.NftTable(name) : null;
    }

    public string Name { get; }
    public TestbedOptions Options { get; }
    public string ClientNamespace { get; }
    public string MiddleNamespace { get; }
    public string ServerNamespace { get; }
    /// <summary>The endpoint veths, inside their namespaces.</summary>
    public string ClientInterface => "eth0";
    public string ServerInterface => "eth0";
    /// <summary>The middle's veths facing client and server (the delay line's packet sockets).</summary>
    public string MiddleClientInterface => "veth-c";
    public string MiddleServerInterface => "veth-s";
    public uint ClientAddress => Subnet | 1;
    public uint ServerAddress => Subnet | 2;
    public IPAddress ClientIPAddress => Routes.ToAddress(ClientAddress);
    public IPAddress ServerIPAddress => Routes.ToAddress(ServerAddress);
    public byte[] ClientHardwareAddress => (byte[])ClientMac.Clone();
    public byte[] ServerHardwareAddress => (byte[])ServerMac.Clone();
    /// <summary>"netem" or "userspace-delay-line": which emulator carries this testbed's link.</summary>
    public string EmulatorBackend { get; }
    /// <summary>Why: what the netem probe saw.</summary>
    public string EmulatorEvidence { get; }
    /// <summary>Whether netem got the seed (the delay line always does).</summary>
    public bool EmulatorSeeded => EmulatorBackend == UserspaceDelayLineBackend || netemSeed;
    /// <summary>The netdev table dropping RawServerPorts in client and server namespaces; null without raw ports.</summary>
    public string? NftTableName { get; }
    public int DelayLineProcessId { get; private set; }
    /// <summary>How much earlier the delay line releases each frame (half the measured zero-delay RTT); zero for netem or when off.</summary>
    public TimeSpan ForwardingCompensation { get; private set; }
    /// <summary>The zero-delay round trip the compensation came from (ping, median), or null.</summary>
    public TimeSpan? BaseRoundTrip { get; private set; }

    private static readonly object CalibrationGate = new();
    private static TimeSpan? calibratedBaseRoundTrip;
    /// <summary>Compensation never exceeds this each way: a larger base RTT means a machine too busy to trust.</summary>
    public static readonly TimeSpan MaxCompensation = TimeSpan.FromMilliseconds(0.5);

    /// <summary>What the delay line wrote on stderr (last 100 lines): its statistics after it stopped.</summary>
    public string DelayLineLog
    {
        get { lock (delayLineLog) return string.Join('\n', delayLineLog); }
    }


    public static Testbed Create(TestbedOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Environment.IsPrivilegedProcess) throw new TestbedException("a testbed needs root (network namespaces, veth, nftables)");
        if (options.DelayClientToServer < TimeSpan.Zero || options.DelayServerToClient < TimeSpan.Zero)
            throw new ArgumentException("delays cannot be negative", nameof(options));
        options.ClientToServer.Validate("client->server");
        options.ServerToClient.Validate("server->client");
        if (options.RawServerPorts.Any(p => p == 0)) throw new ArgumentException("port 0 cannot be served", nameof(options));
        if (options.DelayLineRealtimePriority is < 0 or > 99) throw new ArgumentException("realtime priority is 0 (off) or 1..99", nameof(options));
        string name = options.Name ?? TestbedNames.NextDefault();
        if (!TestbedNames.IsValid(name)) throw new ArgumentException($"bad testbed name '{name}'", nameof(options));
        if (TestbedNames.Namespaces(name).Any(NetNamespace.Exists)) throw new TestbedException($"testbed {name} already exists");

        var probe = options.Emulator == EmulatorChoice.UserspaceDelayLine ? new EmulatorProbe(false, false, "user-space delay line requested") : Emulator.Detect();
        string backend = Emulator.Choose(options.Emulator, probe);
        if (backend == UserspaceDelayLineBackend && (options.ClientToServer.AllowReordering || options.ServerToClient.AllowReordering))
            throw new ArgumentException("the user-space delay line keeps frames in order; reordering needs netem", nameof(options));
        var testbed = new Testbed(name, options, backend, probe);
        try
        {
            testbed.Build();
        }
        catch (Exception e)
        {
            testbed.Dispose();
            throw e as TestbedException ?? new TestbedException($"creating testbed {name} failed: {e.Message}", e);
        }
        testbed.processExitHook = (_, _) => testbed.Dispose();
        // Ctrl-C: tear down only if nobody handles it (the CLI cancels its work and disposes in order instead).
        testbed.cancelKeyHook = (_, e) => { if (!e.Cancel) testbed.Dispose(); };
        AppDomain.CurrentDomain.ProcessExit += testbed.processExitHook;
        Console.CancelKeyPress += testbed.cancelKeyHook;
        return testbed;
    }

    private void Build()
    {
        string c = ClientNamespace, m = MiddleNamespace, s = ServerNamespace;
        foreach (var ns in new[] { c, m, s }) HostCommand.Ip(null, "netns", "add", ns);
        Options.AfterBuildStep?.Invoke("namespaces");

        // No IPv6: router solicitations and MLD reports would cross the link and litter captures.
        // tcp_fastopen=3 lets the tfo baseline be client and server (RFC 7413) without further setup.
        string[] quiet = ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"];
        HostCommand.InNamespace(c, "sysctl", ["-q", "-w", .. quiet, "net.ipv4.tcp_fastopen=3"]);
        HostCommand.InNamespace(s, "sysctl", ["-q", "-w", .. quiet, "net.ipv4.tcp_fastopen=3"]);
        HostCommand.InNamespace(m, "sysctl", ["-q", "-w", .. quiet]);

        HostCommand.Ip(c, "link", "add", ClientInterface, "address", Mac(ClientMac), "type", "veth",
            "peer", "name", MiddleClientInterface, "address", Mac(MiddleClientSideMac), "netns", m);
        HostCommand.Ip(s, "link", "add", ServerInterface, "address", Mac(ServerMac), "type", "veth",
            "peer", "name", MiddleServerInterface, "address", Mac(MiddleServerSideMac), "netns", m);
        Options.AfterBuildStep?.Invoke("veth");

        // DESIGN.md pitfall: with checksum offload the kernel leaves TCP checksums partial, which a
        // user-space ferry forwards as broken frames (ICMP survives, TCP does not); GRO would hand it merged frames.
        foreach (var (ns, dev) in new[] { (c, ClientInterface), (m, MiddleClientInterface), (m, MiddleServerInterface), (s, ServerInterface) })
            HostCommand.InNamespace(ns, "ethtool", ["-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);

        // Permanent neighbour entries: no ARP exchange ever sits inside a measurement.
        HostCommand.Run("ip", ["-n", c, "-batch", "-"], standardInput: string.Join('\n',
            "link set lo up",
            $"addr add {ClientIPAddress}/{PrefixLength} dev {ClientInterface}",
            $"link set {ClientInterface} up",
            $"neigh replace {ServerIPAddress} lladdr {Mac(ServerMac)} dev {ClientInterface} nud permanent") + "\n");
        HostCommand.Run("ip", ["-n", s, "-batch", "-"], standardInput: string.Join('\n',
            "link set lo up",
            $"addr add {ServerIPAddress}/{PrefixLength} dev {ServerInterface}",
            $"link set {ServerInterface} up",
            $"neigh replace {ClientIPAddress} lladdr {Mac(ClientMac)} dev {ServerInterface} nud permanent") + "\n");
        HostCommand.Run("ip", ["-n", m, "-batch", "-"], standardInput:
            $"link set {MiddleClientInterface} up\nlink set {MiddleServerInterface} up\n");

        if (NftTableName is not null)
        {
            // Netdev ingress runs after packet sockets took their copy: the user-space TCP sees the
            // segment, the kernel never does, so it neither answers nor resets (DESIGN.md).
            string ports = string.Join(", ", Options.RawServerPorts.Distinct().Order());
            HostCommand.InNamespace(s, "nft", ["-f", "-"], NftRuleset(NftTableName, ServerInterface, $"tcp dport {{ {ports} }}"));
            HostCommand.InNamespace(c, "nft", ["-f", "-"], NftRuleset(NftTableName, ClientInterface, $"tcp sport {{ {ports} }}"));
        }
        Options.AfterBuildStep?.Invoke("nft");

        if (EmulatorBackend == NetemBackend)
        {
            StartNetem();
            Options.AfterBuildStep?.Invoke("netem");
        }
        else
        {
            if (Options.CompensateForwardingLatency)
            {
                BaseRoundTrip = CalibrateBaseRoundTrip();
                ForwardingCompensation = TimeSpan.FromTicks(Math.Min(BaseRoundTrip.Value.Ticks / 2, MaxCompensation.Ticks));
            }
            StartDelayLine(DelayLineFor(Options.ClientToServer, Options.ServerToClient, ForwardingCompensation));
            Options.AfterBuildStep?.Invoke("delay-line");
        }
    }

    private static string NftRuleset(string table, string device, string match) =>
        $$"""
        table netdev {{table}} {
          chain ingress {
            type filter hook ingress device "{{device}}" priority 0; policy accept;
            {{match}} drop
          }
        }

        """;

    /// <summary>
    /// The kernel backend: the middle bridges its two veths and netem shapes each one's egress, so
    /// veth-s carries client->server frames and veth-c server->client ones (tc-netem(8)). STP off and
    /// forward delay 0: the bridge forwards from the first frame.
    /// </summary>
    private void StartNetem()
    {
        string m = MiddleNamespace;
        HostCommand.Ip(m, "link", "add", BridgeName, "type", "bridge", "stp_state", "0", "forward_delay", "0");
        HostCommand.Ip(m, "link", "set", MiddleClientInterface, "master", BridgeName);
        HostCommand.Ip(m, "link", "set", MiddleServerInterface, "master", BridgeName);
        HostCommand.Ip(m, "link", "set", BridgeName, "up");
        int? seedToServer = netemSeed ? LinkParameters.DirectionSeed(Options.Seed, 0) : null;
        int? seedToClient = netemSeed ? LinkParameters.DirectionSeed(Options.Seed, 1) : null;
        foreach (var command in Emulator.NetemCommands(MiddleServerInterface, Options.ClientToServer, seedToServer)
                     .Concat(Emulator.NetemCommands(MiddleClientInterface, Options.ServerToClient, seedToClient)))
            HostCommand.Run("tc", ["-n", m, .. command]);
    }

    private DelayLineSettings DelayLineFor(LinkParameters toServer, LinkParameters toClient, TimeSpan compensation) => new()
    {
        ClientInterface = MiddleClientInterface,
        ServerInterface = MiddleServerInterface,
        ClientToServer = toServer,
        ServerToClient = toClient,
        Seed = Options.Seed,
        Compensation = compensation,
        ParentProcessId = Options.OwnedByThisProcess ? Environment.ProcessId : null,
        Detach = !Options.OwnedByThisProcess,
        RealtimePriority = Options.DelayLineRealtimePriority,
    };

    /// <summary>
    /// The forwarding path's own RTT: a zero-delay delay line, 10 warm-up and 40 measured pings 10 ms
    /// apart (ping(8) takes kernel receive timestamps), the median. Once per process: every testbed has
    /// the same path, and calibrating each would add a second to each.
    /// </summary>
    private TimeSpan CalibrateBaseRoundTrip()
    {
        lock (CalibrationGate)
        {
            if (calibratedBaseRoundTrip is { } known) return known;
            StartDelayLine(DelayLineFor(new LinkParameters(), new LinkParameters(), TimeSpan.Zero) with { Detach = false, ParentProcessId = Environment.ProcessId });
            try
            {
                var output = HostCommand.InNamespace(ClientNamespace, "ping", ["-n", "-c", "50", "-i", "0.01", "-W", "1", ServerIPAddress.ToString()]);
                var times = output.Split('\n')
                    .Select(l => l.IndexOf("time=", StringComparison.Ordinal) is int i and >= 0 ? l[(i + 5)..].Split(' ')[0] : null)
                    .OfType<string>()
                    .Select(t => double.Parse(t, CultureInfo.InvariantCulture))
                    .Skip(10)
                    .Order()
                    .ToList();
                if (times.Count < 20) throw new TestbedException($"calibration: only {times.Count} of 40 pings answered across a zero-delay line");
                var median = TimeSpan.FromMilliseconds(times[times.Count / 2]);
                calibratedBaseRoundTrip = median;
                return median;
            }
            finally
            {
                StopDelayLine();
                lock (delayLineLog) delayLineLog.Clear();
            }
        }
    }

    private void StartDelayLine(DelayLineSettings settings)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "latency-smtp.dll");
        if (!File.Exists(dll)) throw new TestbedException($"delay line entry point {dll} not found");
        var start = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // A testbed that outlives its creator gets its own session: no SIGHUP when the terminal goes.
        start.FileName = Options.OwnedByThisProcess ? "ip" : "setsid";
        if (!Options.OwnedByThisProcess) start.ArgumentList.Add("ip");
        foreach (var arg in (string[])["netns", "exec", MiddleNamespace, DotnetHost(), dll, "__delay-line", .. settings.ToArguments()])
            start.ArgumentList.Add(arg);

        using var ready = new ManualResetEventSlim();
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data == DelayLineProgram.ReadyLine) ready.Set(); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (delayLineLog)
            {
                delayLineLog.Enqueue(e.Data);
                while (delayLineLog.Count > 100) delayLineLog.Dequeue();
            }
        };
        process.Exited += (_, _) => { try { ready.Set(); } catch (ObjectDisposedException) { } };
        if (!process.Start()) throw new TestbedException("cannot start the delay line");
        delayLine = process;
        DelayLineProcessId = process.Id;
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!ready.Wait(ReadyTimeout) || process.HasExited)
        {
            if (process.HasExited) process.WaitForExit();   // collect its last stderr lines
            throw new TestbedException($"delay line did not become ready (exit: {(process.HasExited ? process.ExitCode.ToString(CultureInfo.InvariantCulture) : "still running")}): {DelayLineLog}");
        }
    }

    /// <summary>The dotnet muxer running this process, else "dotnet" from PATH.</summary>
    private static string DotnetHost()
    {
        string? path = Environment.ProcessPath;
        return path is not null && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
    }

    private static string Mac(byte[] mac) => string.Join(':', mac.Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));

    /// <summary>Stops the delay line, deletes the nft tables and the namespaces; idempotent, never throws.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            RemoveHooks();
            StopDelayLine();
            var errors = Teardown(Name);
            foreach (var error in errors) Console.Error.WriteLine($"testbed {Name}: {error}");
        }
    }

    /// <summary>Keeps the testbed running after this object and process are gone (testbed up).</summary>
    internal void Detach()
    {
        lock (gate)
        {
            disposed = true;
            RemoveHooks();
            delayLine?.Dispose();
            delayLine = null;
        }
    }

    private void RemoveHooks()
    {
        if (processExitHook is not null) AppDomain.CurrentDomain.ProcessExit -= processExitHook;
        if (cancelKeyHook is not null) Console.CancelKeyPress -= cancelKeyHook;
        processExitHook = null;
        cancelKeyHook = null;
    }

    private void StopDelayLine()
    {
        var process = delayLine;
        delayLine = null;
        if (process is null) return;
        try
        {
            if (!process.HasExited)
            {
                LinuxProcess.Signal(process.Id, LinuxProcess.SIGTERM);
                if (!process.WaitForExit(TimeSpan.FromSeconds(3))) process.Kill();
            }
            process.WaitForExit(TimeSpan.FromSeconds(3));   // also drains its stderr into DelayLineLog
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception)
        {
            // already gone; Teardown still kills whatever runs in the namespaces
        }
        finally
        {
            process.Dispose();
        }
    }

    /// <summary>
    /// Removes testbeds whose owner process is gone: default names carry the owner's pid. Testbeds with
    /// a state file (testbed up) are left to <see cref="TestbedCommands.Down"/>. Returns how many were removed.
    /// </summary>
    public static int RemoveStale()
    {
        int removed = 0;
        foreach (var name in TestbedNames.ExistingTestbeds())
        {
            if (!TestbedNames.TryParseOwner(name, out int owner) || LinuxProcess.IsAlive(owner)) continue;
            if (File.Exists(TestbedCommands.StatePath(name))) continue;
            Teardown(name);
            removed++;
        }
        return removed;
    }

    /// <summary>Kills every process left in the testbed's namespaces, deletes its nft tables and
    /// namespaces. Best effort: returns what failed.</summary>
    internal static List<string> Teardown(string name)
    {
        var errors = new List<string>();
        var namespaces = TestbedNames.Namespaces(name).Where(NetNamespace.Exists).ToList();

        // Processes keep a deleted namespace (and its veths) alive: end them first, politely, then not.
        var pids = namespaces.SelectMany(ns => ProcessesIn(ns, errors)).Distinct().ToList();
        foreach (int signal in new[] { LinuxProcess.SIGTERM, LinuxProcess.SIGKILL })
        {
            pids = pids.Where(LinuxProcess.IsAlive).ToList();
            foreach (int pid in pids) LinuxProcess.Signal(pid, signal);
            var deadline = Stopwatch.StartNew();
            while (pids.Any(LinuxProcess.IsAlive) && deadline.Elapsed < TimeSpan.FromSeconds(2)) Thread.Sleep(20);
        }
        foreach (int pid in pids.Where(LinuxProcess.IsAlive)) errors.Add($"process {pid} survived SIGKILL");

        string table = TestbedNames.NftTable(name);
        foreach (var ns in namespaces.Where(ns => ns != TestbedNames.MiddleNamespace(name)))
        {
            try
            {
                var tables = HostCommand.TryInNamespace(ns, "nft", ["list", "tables", "netdev"]);
                if (tables.ExitCode == 0 && tables.StandardOutput.Split('\n').Any(l => l.Trim() == $"table netdev {table}"))
                    HostCommand.InNamespace(ns, "nft", ["delete", "table", "netdev", table]);
            }
            catch (TestbedException e)
            {
                errors.Add(e.Message);
            }
        }
        foreach (var ns in namespaces)
        {
            try
            {
                HostCommand.Ip(null, "netns", "delete", ns);
            }
            catch (TestbedException e)
            {
                errors.Add(e.Message);
            }
        }
        return errors;
    }

    private static IEnumerable<int> ProcessesIn(string ns, List<string> errors)
    {
        try
        {
            return HostCommand.Ip(null, "netns", "pids", ns)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(p => int.Parse(p, CultureInfo.InvariantCulture))
                .Where(p => p != Environment.ProcessId)
                .ToList();
        }
        catch (Exception e) when (e is TestbedException or FormatException)
        {
            errors.Add(e.Message);
            return [];
        }
    }

    internal TestbedState CaptureState() => new()
    {
        Name = Name,
        ClientNamespace = ClientNamespace,
        MiddleNamespace = MiddleNamespace,
        ServerNamespace = ServerNamespace,
        ClientInterface = ClientInterface,
        ServerInterface = ServerInterface,
        ClientAddress = ClientIPAddress.ToString(),
        ServerAddress = ServerIPAddress.ToString(),
        PrefixLength = PrefixLength,
        DelayClientToServerMs = Options.ClientToServer.Delay.TotalMilliseconds,
        DelayServerToClientMs = Options.ServerToClient.Delay.TotalMilliseconds,
        ClientToServer = Options.ClientToServer.ToString(),
        ServerToClient = Options.ServerToClient.ToString(),
        Seed = Options.Seed,
        RawServerPorts = [.. Options.RawServerPorts],
        NftTable = NftTableName,
        EmulatorBackend = EmulatorBackend,
        ForwardingCompensationMs = ForwardingCompensation.TotalMilliseconds,
        DelayLineProcessId = DelayLineProcessId,
        CreatedUtc = DateTimeOffset.UtcNow,
    };
}
