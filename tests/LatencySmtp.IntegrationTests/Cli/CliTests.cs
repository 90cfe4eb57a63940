using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LatencySmtp.IntegrationTests.Capture;
using LatencySmtp.IntegrationTests.Experiments;
using LatencySmtp.IntegrationTests.Interop;
using LatencySmtp.Testbed;
using LatencySmtp.Transport;
using Xunit.Abstractions;

namespace LatencySmtp.IntegrationTests.Cli;

/// <summary>The README's commands as a user types them: the latency-smtp program, not the library under it.</summary>
public sealed class CliTests(ITestOutputHelper output)
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "latency-smtp.dll");
    private static readonly string Message = Peers.DataFile("multipart.eml");

    [Fact]
    public async Task Readme_swaks_example_against_serve_classic_lands_in_the_maildir()
    {
        var box = Directory.CreateTempSubdirectory("lsm-cli-box-").FullName;
        var port = FreePort();
        try
        {
            await using (var serve = await Server.StartAsync(["serve", "--variant", "classic", "--listen", $"127.0.0.1:{port}", "--maildir", box]))
            {
                var (code, text) = Peers.Run("swaks", ["--server", $"127.0.0.1:{port}", "--to", "b@example.net", "--from", "a@example.org"]);
                Assert.True(code == 0, text);
                Assert.Matches(@"<-  250 2\.0\.0 .*queued as", text);
                var stored = Assert.Single(Directory.GetFiles(Path.Combine(box, "new")));
                Assert.Contains("From: a@example.org", File.ReadAllText(stored));
                Assert.Equal(0, await serve.StopAsync());
                Assert.Contains("delivered 1 message(s)", serve.Output);
            }
        }
        finally { Directory.Delete(box, true); }
    }

    /// <summary>
    /// Every variant's serve and send, in the namespaces of a 'testbed up' (as README shows): send exits 0
    /// having been accepted, the message is in the server's Maildir byte for byte, and serve stops on SIGTERM.
    /// </summary>
    [Fact]
    public async Task Serve_and_send_every_variant_across_a_testbed()
    {
        var name = $"lsm-cli-{Environment.ProcessId}";
        var up = BoundedProcess.Run("dotnet", [Dll, "testbed", "up", "--delay", "5ms", "--name", name, "--json"], TimeSpan.FromSeconds(60));
        Assert.True(up.ExitCode == 0, up.StandardError);
        var root = Directory.CreateTempSubdirectory("lsm-cli-").FullName;
        try
        {
            using var state = JsonDocument.Parse(up.StandardOutput);
            var clientNs = state.RootElement.GetProperty("client_namespace").GetString()!;
            var serverNs = state.RootElement.GetProperty("server_namespace").GetString()!;
            var address = state.RootElement.GetProperty("server_address").GetString()!;
            var expected = File.ReadAllBytes(Message);
            foreach (var v in Enum.GetValues<SmtpVariant>())
            {
                var box = Path.Combine(root, v.Name());
                var endpoint = $"{address}:{2525 + (int)v}";
                await using var serve = await Server.StartAsync(["serve", "--variant", v.Name(), "--listen", endpoint, "--maildir", box, "--netns", serverNs]);
                // Twice: a ttcp/tfo first contact (2 RTT), then the accelerated open with the state the first left.
                var stateFile = Path.Combine(root, v.Name() + ".state");
                for (var i = 0; i < 2; i++)
                {
                    var send = BoundedProcess.Run("dotnet", [Dll, "send", "--variant", v.Name(), "--server", endpoint, "--from", "alice@example.org",
                        "--to", "bob@example.net", "--message", Message, "--netns", clientNs, "--ttcp-state", stateFile, "--timeout", "20"], TimeSpan.FromSeconds(60));
                    output.WriteLine($"{v.Name()} #{i}: {send.StandardOutput.Trim().Replace('\n', ' ')}");
                    Assert.True(send.ExitCode == 0, $"send --variant {v.Name()} exited {send.ExitCode}: {send.StandardOutput} {send.StandardError}");
                    Assert.Contains("outcome:  accepted (250", send.StandardOutput);
                }
                Assert.Equal(0, await serve.StopAsync());
                var stored = Directory.GetFiles(Path.Combine(box, "new"));
                Assert.Equal(2, stored.Length);
                Assert.All(stored, f => Assert.Equal(expected, File.ReadAllBytes(f)));
            }
        }
        finally
        {
            BoundedProcess.Run("dotnet", [Dll, "testbed", "down", "--name", name], TimeSpan.FromSeconds(60));
            Directory.Delete(root, true);
        }
        Assert.DoesNotContain(TestbedNames.Namespaces(name), LatencySmtp.Transport.Linux.NetNamespace.Exists);
    }

    [Fact]
    public void Send_to_nothing_fails_with_a_clear_message_and_a_non_zero_exit()
    {
        var send = BoundedProcess.Run("dotnet", [Dll, "send", "--server", $"127.0.0.1:{FreePort()}", "--from", "a@example.org", "--to", "b@example.net",
            "--message", Message, "--timeout", "5"], TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, send.ExitCode);
        Assert.Contains("refused", send.StandardOutput + send.StandardError, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Adversarial review: each of these printed a stack trace, ran, or failed only after a testbed was built.</summary>
    [Theory]
    [InlineData("run-spec", "name = \"../../escaped\"\nvariants = [\"classic\"]", "'name'")]
    [InlineData("run-spec", "variants = [\"classic\"]\ntimeout_s = 1e300", "timeout_s")]
    [InlineData("run-spec", "variants = [\"classic\"]\nrecipients = [101]", "recipient limit")]
    [InlineData("run-spec", "variants = [\"classic\"]\nsize_bytes = [10]\nrepetitions = 1", "below the test message's own headers")]
    [InlineData("analyze-empty", "", "not a capture file")]
    [InlineData("testbed-delay", "1e300s", "longer than an hour")]
    [InlineData("testbed-down", "no-such-testbed", "no testbed named")]
    [InlineData("send-timeout", "0", "--timeout")]
    [InlineData("send-to", "c@d\r\nRCPT TO:x@y", "line break")]
    public void Bad_input_is_one_clear_line_and_a_non_zero_exit(string what, string input, string expected)
    {
        var dir = Directory.CreateTempSubdirectory("lsm-badinput-").FullName;
        try
        {
            var file = Path.Combine(dir, what == "analyze-empty" ? "empty.pcap" : "spec.toml");
            File.WriteAllText(file, input);
            string[] args = what switch
            {
                "run-spec" => ["run", file, "--out", Path.Combine(dir, "out")],
                "analyze-empty" => ["analyze", file],
                "testbed-delay" => ["testbed", "up", "--delay", input],
                "testbed-down" => ["testbed", "down", "--name", input],
                "send-timeout" => ["send", "--server", "127.0.0.1:9", "--from", "a@example.org", "--to", "b@example.net", "--message", Message, "--timeout", input],
                _ => ["send", "--server", "127.0.0.1:9", "--from", "a@example.org", "--to", input, "--message", Message],
            };
            var r = BoundedProcess.Run("dotnet", [Dll, .. args], TimeSpan.FromSeconds(60));
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains(expected, r.StandardError);
            Assert.StartsWith("latency-smtp: ", r.StandardError.Trim());
            Assert.DoesNotContain("   at ", r.StandardError);                            // no stack trace
            Assert.False(Directory.Exists(Path.Combine(dir, "out")) && Directory.EnumerateFiles(Path.Combine(dir, "out")).Any());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>A 'latency-smtp serve' process: ready when it prints its banner; stopped with SIGTERM as a service manager would.</summary>
    private sealed class Server : IAsyncDisposable
    {
        private readonly Process _p;
        private readonly ConcurrentQueue<string> _lines = new();

        private Server(Process p) => _p = p;

        public string Output => string.Join('\n', _lines);

        public static async Task<Server> StartAsync(string[] args)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Dll);
            foreach (var a in args) psi.ArgumentList.Add(a);
            var s = new Server(Process.Start(psi)!);
            var ready = new TaskCompletionSource();
            s._p.OutputDataReceived += (_, e) => { if (e.Data is null) return; s._lines.Enqueue(e.Data); if (e.Data.Contains("SMTP server on")) ready.TrySetResult(); };
            s._p.ErrorDataReceived += (_, e) => { if (e.Data is not null) s._lines.Enqueue("stderr: " + e.Data); };
            s._p.BeginOutputReadLine();
            s._p.BeginErrorReadLine();
            var done = await Task.WhenAny(ready.Task, s._p.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(30)));
            if (done != ready.Task)
            {
                await s.DisposeAsync();
                throw new InvalidOperationException($"serve did not start: {s.Output}");
            }
            return s;
        }

        public async Task<int> StopAsync()
        {
            Posix.Kill(_p.Id, 15);
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await _p.WaitForExitAsync(limit.Token);
            return _p.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_p.HasExited)
            {
                try { await StopAsync(); }
                catch (OperationCanceledException) { _p.Kill(entireProcessTree: true); }
            }
            _p.Dispose();
        }
    }
}
