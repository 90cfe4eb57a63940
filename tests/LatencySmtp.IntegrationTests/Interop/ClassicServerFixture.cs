using System.Net;
using LatencySmtp.Smtp;
using LatencySmtp.Transport.Delivery;
using LatencySmtp.Transport.Kernel;

namespace LatencySmtp.IntegrationTests.Interop;

/// <summary>A classic server on a loopback port with a fresh Maildir; removed with the test.</summary>
public sealed class ClassicServer : IAsyncDisposable
{
    private ClassicServer(KernelSmtpServer server, Maildir maildir, string root)
    {
        Server = server;
        Maildir = maildir;
        Root = root;
    }

    public KernelSmtpServer Server { get; }
    public Maildir Maildir { get; }
    private string Root { get; }
    public int Port => Server.LocalEndPoint.Port;
    public IPEndPoint Endpoint => Server.LocalEndPoint;

    public static ClassicServer Start(ServerMode mode = ServerMode.Classic, Func<KernelServerOptions, KernelServerOptions>? configure = null)
    {
        var root = Directory.CreateTempSubdirectory("lsm-interop-").FullName;
        var maildir = new Maildir(Path.Combine(root, "Maildir"));
        var options = new KernelServerOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            Mode = mode,
            Smtp = new ServerOptions { HostName = "mx.lsm.test" },
        };
        var server = new KernelSmtpServer(configure is null ? options : configure(options), maildir);
        return new ClassicServer(server, maildir, root);
    }

    /// <summary>Waits (bounded) until <paramref name="count"/> messages are in new/.</summary>
    public IReadOnlyList<string> WaitForMessages(int count, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var files = Maildir.NewMessages();
            if (files.Count >= count || DateTime.UtcNow > until) return files;
            Thread.Sleep(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
