using System.Runtime.InteropServices;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Testbed;

/// <summary>
/// Entry point of the delay-line process ("latency-smtp __delay-line ..."), started by
/// <see cref="Testbed"/> inside the middle namespace. Prints "ready" once both packet sockets are
/// open; exits on SIGTERM/SIGINT, when its parent process is gone (polled every 200 ms), or when a
/// forwarding thread fails. Exit codes: 0 stopped, 1 failed, 2 bad arguments.
/// </summary>
public static class DelayLineProgram
{
    public const string ReadyLine = "ready";

    public static int Main(string[] args)
    {
        DelayLineSettings settings;
        try
        {
            settings = DelayLineSettings.Parse(args);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine($"delay-line: {e.Message}");
            return 2;
        }

        using var stopRequested = new ManualResetEventSlim();
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stopRequested.Set(); });
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stopRequested.Set(); });
        int initialParent = LinuxProcess.ParentProcessId;

        PacketSocket? client = null, server = null;
        DelayLine line;
        try
        {
            client = PacketSocket.Open(settings.ClientInterface);
            server = PacketSocket.Open(settings.ServerInterface);
            foreach (var socket in new[] { client, server })
            {
                socket.SetReceiveBufferSize(4 << 20);
                socket.SetSendBufferSize(4 << 20);
            }
            using (var scratch = PacketSocket.Open("lo")) DelayLine.WarmUp(scratch);
            line = new DelayLine(client, server,
                new LinkDirection(settings.ClientToServer, LinkParameters.DirectionSeed(settings.Seed, 0), settings.Compensation),
                new LinkDirection(settings.ServerToClient, LinkParameters.DirectionSeed(settings.Seed, 1), settings.Compensation),
                settings.QueueBytes, settings.RealtimePriority);
        }
        catch (Exception e)
        {
            client?.Dispose();
            server?.Dispose();
            Console.Error.WriteLine($"delay-line: {e.Message}");
            return 1;
        }

        using (client)
        using (server)
        using (line)
        {
            line.Start();
            Console.Out.WriteLine(ReadyLine);
            Console.Out.Flush();
            if (settings.Detach) LinuxProcess.RedirectStandardStreamsToNull();

            var handles = new[] { stopRequested.WaitHandle, line.Stopped };
            while (WaitHandle.WaitAny(handles, 200) == WaitHandle.WaitTimeout)
            {
                if (settings.ParentProcessId is int parent &&
                    (!LinuxProcess.IsAlive(parent) || LinuxProcess.ParentProcessId != initialParent))
                    break;
            }
            line.Stop();
            Console.Error.WriteLine(line.Report());
            if (line.Failure is { } failure)
            {
                Console.Error.WriteLine($"delay-line: failed: {failure.Message}");
                return 1;
            }
            return 0;
        }
    }
}
