using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using LatencySmtp.Smtp;
using LatencySmtp.Transport.Linux;

namespace LatencySmtp.Transport.Kernel;

/// <summary>Drives a <see cref="ClientSession"/> over a kernel TCP connection and times it.</summary>
public static class KernelSmtpClient
{
    /// <param name="fastOpen">TCP Fast Open (RFC 7413): TCP_FASTOPEN_CONNECT makes connect() return at once and
    /// the first send() carry the SYN with the session's first output (a greeting-less request). With a cached
    /// cookie the request rides in the SYN; on first contact the kernel asks for a cookie and sends the data
    /// after the handshake. Needs net.ipv4.tcp_fastopen with bit 1 (client) in the client's namespace.</param>
    public static async Task<TransactionResult> RunAsync(
        IPEndPoint server, ClientSession session, string? netns = null, TimeSpan? timeout = null, CancellationToken cancel = default,
        bool fastOpen = false)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(limit);
        var socket = NetNamespace.Run(netns, () =>
        {
            var s = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            if (fastOpen) SocketOptions.EnableFastOpenConnect(s);
            return s;
        });
        double acceptMs = double.NaN;
        ushort localPort = 0;
        // accept_ms starts at connect() for every kernel variant (DESIGN.md, "Data on disk").
        var clock = Stopwatch.StartNew();
        string? error = null;
        try
        {
            using (socket)
            {
                if (fastOpen)
                {
                    // Blocking calls on a socket that has not been used asynchronously yet: a non-blocking
                    // send() without a cookie would fail with EINPROGRESS instead of waiting for the handshake.
                    socket.SendTimeout = (int)Math.Clamp(limit.TotalMilliseconds, 1, int.MaxValue);
                    // On a dedicated thread: on first contact the send blocks for a whole handshake, and a blocked
                    // thread-pool thread can starve the awaits around it (the pool adds threads only every ~0.5 s).
                    await Task.Factory.StartNew(() =>
                    {
                        socket.Connect(server);           // returns at once: the SYN waits for the first send
                        session.Start();
                        var first = session.TakeOutput();
                        for (int sent = 0; sent < first.Length;)
                            sent += socket.Send(first, sent, first.Length - sent, SocketFlags.None);
                    }, deadline.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
                }
                else
                {
                    await socket.ConnectAsync(server, deadline.Token);
                    session.Start();
                }
                localPort = (ushort)((IPEndPoint)socket.LocalEndPoint!).Port;
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
            error = e.SocketErrorCode == SocketError.TimedOut || e.SocketErrorCode == SocketError.WouldBlock
                ? $"timed out after {clock.Elapsed.TotalSeconds:F1} s ({e.SocketErrorCode})"
                : $"{e.SocketErrorCode}: {e.Message}";
        }
        var outcome = session.Outcome == ClientOutcome.Pending ? ClientOutcome.Failed : session.Outcome;
        return new TransactionResult(outcome, acceptMs, clock.Elapsed.TotalMilliseconds, localPort,
            session.FinalReply, session.ServerIdentity, error ?? session.Error, session.RefusedRecipients);
    }
}
