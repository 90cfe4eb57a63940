using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LatencySmtp.Smtp;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Transport.Kernel;

/// <summary>Drives a <see cref="ClientSession"/> over a kernel TCP connection and times it.</summary>
public static class KernelSmtpClient
{
    public static async Task<TransactionResult> RunAsync(
        IPEndPoint server, ClientSession session, string? netns = null, TimeSpan? timeout = null, CancellationToken cancel = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout ?? TimeSpan.FromSeconds(30));
        var socket = NetNamespace.Run(netns, () => new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true });
        double acceptMs = double.NaN;
        ushort localPort = 0;
        var clock = Stopwatch.StartNew();
        string? error = null;
        try
        {
            using (socket)
            {
                await socket.ConnectAsync(server, deadline.Token);
                localPort = (ushort)((IPEndPoint)socket.LocalEndPoint!).Port;
                session.Start();
                var buffer = new byte[16 * 1024];
                while (!session.IsDone)
                {
                    if (session.HasOutput)
                    {
                        await socket.SendAsync(session.TakeOutput(), SocketFlags.None, deadline.Token);
                        continue;
                    }
                    var n = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                    if (n == 0)
                    {
                        session.ReceiveEnd();
                        break;
                    }
                    session.Receive(buffer.AsSpan(0, n));
                    if (double.IsNaN(acceptMs) && session.Outcome == ClientOutcome.Accepted)
                        acceptMs = clock.Elapsed.TotalMilliseconds;
                }
                if (session.HasOutput)
                    await socket.SendAsync(session.TakeOutput(), SocketFlags.None, deadline.Token);
                socket.Shutdown(SocketShutdown.Both);
            }
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            error = $"timed out after {clock.Elapsed.TotalSeconds:F1} s";
        }
        catch (SocketException e)
        {
            error = $"{e.SocketErrorCode}: {e.Message}";
        }
        var outcome = session.Outcome == ClientOutcome.Pending ? ClientOutcome.Failed : session.Outcome;
        return new TransactionResult(outcome, acceptMs, clock.Elapsed.TotalMilliseconds, localPort,
            session.FinalReply, session.ServerIdentity, error ?? session.Error);
    }
}
