using LatencySmtp.Transport.Linux;
using SharpPcap;
using SharpPcap.LibPcap;

namespace LatencySmtp.Testbed.Capture;

/// <summary>
/// Captures one interface (optionally inside a network namespace) into a pcap file that tshark and
/// Wireshark open. libpcap runs in immediate mode, so every frame reaches the file without waiting for a
/// buffer to fill, and with nanosecond timestamps where the device supports them (the file is then
/// written in the nanosecond pcap format, magic 0xa1b23c4d).
/// </summary>
/// <remarks>
/// A dedicated thread reads the device in non-blocking mode and waits in poll(2) between bursts, so
/// <see cref="Stop"/> returns within one poll interval and still drains every frame the kernel handed
/// to the capture buffer before the call.
/// </remarks>
public sealed class PacketCapture : IDisposable
{
    private const int PollIntervalMilliseconds = 20;
    private const int DrainBatch = 10_000;
    private const int FinalDrainMilliseconds = 5_000;
    private static readonly TimeSpan StopJoinTimeout = TimeSpan.FromSeconds(5);

    private readonly LibPcapLiveDevice _device;
    private readonly CaptureFileWriterDevice _writer;
    private readonly TimestampResolution _resolution;
    private readonly int _selectableFd;
    private readonly Thread _thread;
    private readonly Lock _stopLock = new();
    private volatile bool _stopRequested;
    private bool _stopped;
    private long _packetCount;
    private Exception? _loopError;

    private PacketCapture(LibPcapLiveDevice device, CaptureFileWriterDevice writer, string pcapPath, string interfaceName, string? netns)
    {
        _device = device;
        _writer = writer;
        PcapPath = pcapPath;
        InterfaceName = interfaceName;
        Namespace = netns;
        _resolution = device.TimestampResolution;
        _selectableFd = LibPcapNative.SelectableFd(device.Handle);
        _thread = new Thread(CaptureLoop) { IsBackground = true, Name = $"capture:{netns ?? "-"}:{interfaceName}" };
    }

    /// <summary>Path of the pcap file being written.</summary>
    public string PcapPath { get; }

    public string InterfaceName { get; }

    /// <summary>Network namespace the interface lives in; null for the current one.</summary>
    public string? Namespace { get; }

    /// <summary>Timestamp resolution the device delivers and the file stores.</summary>
    public TimestampResolution Resolution => _resolution;

    /// <summary>Frames written to the file so far.</summary>
    public long PacketCount => Interlocked.Read(ref _packetCount);

    /// <summary>Frames the kernel dropped for this capture (buffer full), read when the capture stops.</summary>
    public long DroppedByKernel { get; private set; }

    /// <summary>
    /// Opens <paramref name="interfaceName"/> inside <paramref name="netns"/> (null: current namespace) and starts
    /// writing every frame (matching <paramref name="filter"/>, a BPF expression, if given) to <paramref name="pcapPath"/>.
    /// </summary>
    public static PacketCapture Start(string? netns, string interfaceName, string pcapPath, string? filter = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        ArgumentException.ThrowIfNullOrEmpty(pcapPath);

        // The device list and the pcap socket belong to the namespace of the thread that creates them.
        var device = NetNamespace.Run(netns, () => OpenDevice(interfaceName, filter));
        CaptureFileWriterDevice? writer = null;
        try
        {
            writer = new CaptureFileWriterDevice(pcapPath, FileMode.Create);
            writer.Open(new DeviceConfiguration
            {
                LinkLayerType = device.LinkType,
                TimestampResolution = device.TimestampResolution,
            });
            var capture = new PacketCapture(device, writer, pcapPath, interfaceName, netns);
            capture._thread.Start();
            return capture;
        }
        catch
        {
            writer?.Close();
            device.Close();
            throw;
        }
    }

    private static LibPcapLiveDevice OpenDevice(string interfaceName, string? filter)
    {
        var devices = LibPcapLiveDeviceList.New();
        var device = devices.FirstOrDefault(d => d.Name == interfaceName)
            ?? throw new ArgumentException(
                $"no capture device '{interfaceName}'; available: {string.Join(", ", devices.Select(d => d.Name))}",
                nameof(interfaceName));

        var configuration = new DeviceConfiguration
        {
            Mode = DeviceModes.None,
            Immediate = true,
            TimestampResolution = TimestampResolution.Nanosecond,
            BufferSize = 8 * 1024 * 1024,
            ReadTimeout = PollIntervalMilliseconds,
        };
        // Nanosecond timestamps are a wish, not a requirement: fall back to microseconds quietly.
        // Any other configuration failure is fatal.
        string? failure = null;
        configuration.ConfigurationFailed += (_, e) =>
        {
            if (e.Property != nameof(DeviceConfiguration.TimestampResolution))
                failure ??= $"{e.Property}: {e.Message}";
        };
        device.Open(configuration);
        try
        {
            if (failure is not null)
                throw new InvalidOperationException($"cannot configure capture on {interfaceName}: {failure}");
            if (!string.IsNullOrWhiteSpace(filter))
                device.Filter = filter;
            device.NonBlockingMode = true;
            return device;
        }
        catch
        {
            device.Close();
            throw;
        }
    }

    private void CaptureLoop()
    {
        try
        {
            while (!_stopRequested)
            {
                Drain();
                LibPcapNative.WaitReadable(_selectableFd, PollIntervalMilliseconds);
            }
            // Frames the kernel queued before Stop was called are still in the buffer: keep them (bounded in time).
            var deadline = Environment.TickCount64 + FinalDrainMilliseconds;
            while (Drain() && Environment.TickCount64 < deadline) { }
        }
        catch (Exception e)
        {
            _loopError = e;
        }
    }

    /// <summary>Writes the frames currently buffered, at most <see cref="DrainBatch"/>; true if there may be more.</summary>
    private bool Drain()
    {
        for (var i = 0; i < DrainBatch; i++)
        {
            IntPtr header = IntPtr.Zero, data = IntPtr.Zero;
            var result = _device.GetNextPacketPointers(ref header, ref data);
            if (result == 0) return false;           // non-blocking: nothing buffered
            if (result < 0)
                throw new IOException($"capture on {InterfaceName} failed: {_device.LastError}");
            var pcapHeader = PcapHeader.FromPointer(header, _resolution);
            unsafe
            {
                var frame = new ReadOnlySpan<byte>(data.ToPointer(), (int)pcapHeader.CaptureLength);
                _writer.Write(frame, ref pcapHeader);
            }
            Interlocked.Increment(ref _packetCount);
        }
        return true;
    }

    /// <summary>
    /// Stops capturing, writes the frames still buffered, flushes and closes the file. Idempotent.
    /// Throws when the capture loop failed, because the file is then incomplete.
    /// </summary>
    public void Stop() => StopCore(throwOnLoopError: true);

    private void StopCore(bool throwOnLoopError)
    {
        lock (_stopLock)
        {
            if (_stopped) return;
            _stopped = true;
            _stopRequested = true;
            var joined = _thread.Join(StopJoinTimeout);
            try
            {
                DroppedByKernel = (long)_device.Statistics.DroppedPackets;
            }
            catch (PcapException)
            {
                // Statistics are informative only.
            }
            if (joined)
            {
                _device.Close();
                _writer.Close();
            }
            else
            {
                _loopError ??= new TimeoutException($"capture thread on {InterfaceName} did not stop within {StopJoinTimeout}");
            }
        }
        if (throwOnLoopError && _loopError is { } error)
            throw new IOException($"capture of {InterfaceName} to {PcapPath} is incomplete: {error.Message}", error);
    }

    public void Dispose() => StopCore(throwOnLoopError: false);
}
