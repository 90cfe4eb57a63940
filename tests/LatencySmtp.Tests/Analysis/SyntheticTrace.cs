using System.Buffers.Binary;
using System.Net;
using System.Text;
using SharpPcap;
using SharpPcap.LibPcap;

namespace LatencySmtp.Tests.Analysis;

/// <summary>
/// Builds Ethernet/IPv4/TCP frames of one or more TCP conversations with exact timestamps, and writes them
/// as a pcap file: nanosecond format through SharpPcap's CaptureFileWriterDevice, or a microsecond file
/// written by hand (24-octet global header, 16-octet record headers).
/// </summary>
internal sealed class SyntheticTrace
{
    /// <summary>Capture epoch of every synthetic trace: 2023-11-14T22:13:20Z.</summary>
    public const long EpochSeconds = 1_700_000_000;

    private readonly List<(decimal Ms, byte[] Frame)> _frames = [];

    public IReadOnlyList<(decimal Ms, byte[] Frame)> Frames => _frames;

    public Conversation Connect(string client, ushort clientPort, string server, ushort serverPort, uint clientIsn, uint serverIsn) =>
        new(this, IPAddress.Parse(client), clientPort, IPAddress.Parse(server), serverPort, clientIsn, serverIsn);

    public void AddRaw(decimal ms, byte[] frame) => _frames.Add((ms, frame));

    /// <summary>Writes the frames in time order (stable for equal times) with nanosecond timestamps.</summary>
    public string WriteNanosecondPcap(string path)
    {
        using var writer = new CaptureFileWriterDevice(path, FileMode.Create);
        writer.Open(new DeviceConfiguration { LinkLayerType = PacketDotNet.LinkLayers.Ethernet, TimestampResolution = TimestampResolution.Nanosecond });
        foreach (var (ms, frame) in _frames.OrderBy(f => f.Ms))
        {
            var nanos = (ulong)(ms * 1_000_000m);
            var header = new PcapHeader(0, 0, (uint)frame.Length, (uint)frame.Length)
            {
                Timeval = new PosixTimeval((ulong)EpochSeconds + nanos / 1_000_000_000, nanos % 1_000_000_000, TimestampResolution.Nanosecond),
            };
            writer.Write(frame, ref header);
        }
        writer.Close();
        return path;
    }

    /// <summary>Writes a classic microsecond pcap (magic 0xa1b2c3d4) by hand, truncating times to microseconds.</summary>
    public string WriteMicrosecondPcap(string path)
    {
        using var file = File.Create(path);
        Span<byte> global = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(global, 0xa1b2c3d4);
        BinaryPrimitives.WriteUInt16LittleEndian(global[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(global[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(global[16..], 65535);   // snap length
        BinaryPrimitives.WriteUInt32LittleEndian(global[20..], 1);       // LINKTYPE_ETHERNET
        file.Write(global);
        Span<byte> record = stackalloc byte[16];
        foreach (var (ms, frame) in _frames.OrderBy(f => f.Ms))
        {
            var micros = (long)(ms * 1000m);
            BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(EpochSeconds + micros / 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(micros % 1_000_000));
            BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)frame.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)frame.Length);
            file.Write(record);
            file.Write(frame);
        }
        return path;
    }

    public sealed class Conversation
    {
        private readonly SyntheticTrace _trace;
        private readonly IPAddress _client, _server;
        private readonly ushort _clientPort, _serverPort;
        private readonly uint _clientIsn;
        private uint _clientNext, _serverNext;
        private ushort _ipId;

        internal Conversation(SyntheticTrace trace, IPAddress client, ushort clientPort, IPAddress server, ushort serverPort, uint clientIsn, uint serverIsn)
        {
            _trace = trace;
            _client = client;
            _clientPort = clientPort;
            _server = server;
            _serverPort = serverPort;
            _clientIsn = clientIsn;
            _clientNext = clientIsn;
            _serverNext = serverIsn;
        }

        public int ClientSegments { get; private set; }
        public int ServerSegments { get; private set; }
        public long ClientBytes { get; private set; }
        public long ServerBytes { get; private set; }

        /// <summary>Client SYN (optionally with data, FIN and options) at <paramref name="ms"/>. A retransmission repeats the ISN.</summary>
        public Conversation Syn(decimal ms, string data = "", bool fin = false, byte[]? options = null)
        {
            Emit(ms, true, _clientIsn, 0, syn: true, ackFlag: false, fin: fin, data, options);
            _clientNext = _clientIsn + 1 + (uint)Encoding.ASCII.GetByteCount(data) + (fin ? 1u : 0u);
            return this;
        }

        /// <summary>Server SYN-ACK; <paramref name="acceptSynData"/> false acknowledges only the SYN, not data sent with it.</summary>
        public Conversation SynAck(decimal ms, string data = "", bool fin = false, byte[]? options = null, bool acceptSynData = true)
        {
            var isn = _serverNext;
            _serverNext = isn + 1 + (uint)Encoding.ASCII.GetByteCount(data) + (fin ? 1u : 0u);
            Emit(ms, false, isn, acceptSynData ? _clientNext : _clientIsn + 1, syn: true, ackFlag: true, fin: fin, data, options);
            return this;
        }

        /// <summary>Client segment with ACK set carrying <paramref name="data"/> (empty: a pure ACK).</summary>
        public Conversation Client(decimal ms, string data = "", bool fin = false)
        {
            Emit(ms, true, _clientNext, _serverNext, syn: false, ackFlag: true, fin: fin, data: data, null);
            _clientNext += (uint)Encoding.ASCII.GetByteCount(data) + (fin ? 1u : 0u);
            return this;
        }

        public Conversation Server(decimal ms, string data = "", bool fin = false)
        {
            Emit(ms, false, _serverNext, _clientNext, syn: false, ackFlag: true, fin: fin, data: data, null);
            _serverNext += (uint)Encoding.ASCII.GetByteCount(data) + (fin ? 1u : 0u);
            return this;
        }

        /// <summary>Client retransmission: <paramref name="data"/> again, ending where the stream now ends.</summary>
        public Conversation ClientRetransmit(decimal ms, string data)
        {
            Emit(ms, true, _clientNext - (uint)Encoding.ASCII.GetByteCount(data), _serverNext, syn: false, ackFlag: true, fin: false, data: data, null);
            return this;
        }

        public Conversation ServerRetransmit(decimal ms, string data)
        {
            Emit(ms, false, _serverNext - (uint)Encoding.ASCII.GetByteCount(data), _clientNext, syn: false, ackFlag: true, fin: false, data: data, null);
            return this;
        }

        /// <summary>Server segment at an explicit offset from the current stream end (for reordering); does not advance.</summary>
        public Conversation ServerAt(decimal ms, uint offsetFromNext, string data)
        {
            Emit(ms, false, _serverNext + offsetFromNext, _clientNext, syn: false, ackFlag: true, fin: false, data: data, null);
            return this;
        }

        public Conversation AdvanceServer(int octets)
        {
            _serverNext += (uint)octets;
            return this;
        }

        private void Emit(decimal ms, bool fromClient, uint seq, uint ack, bool syn, bool ackFlag, bool fin, string data, byte[]? options)
        {
            var payload = Encoding.ASCII.GetBytes(data);
            var frame = BuildFrame(fromClient ? _client : _server, fromClient ? _clientPort : _serverPort,
                fromClient ? _server : _client, fromClient ? _serverPort : _clientPort,
                seq, ack, syn, ackFlag, fin, options ?? [], payload, _ipId++);
            _trace._frames.Add((ms, frame));
            if (fromClient) { ClientSegments++; ClientBytes += payload.Length; }
            else { ServerSegments++; ServerBytes += payload.Length; }
        }
    }

    /// <summary>Ethernet II + IPv4 (no options) + TCP with correct checksums (RFC 791, RFC 9293 §3.1).</summary>
    public static byte[] BuildFrame(IPAddress source, ushort sourcePort, IPAddress destination, ushort destinationPort,
        uint seq, uint ack, bool syn, bool ackFlag, bool fin, byte[] options, byte[] payload, ushort ipId)
    {
        var optionLength = (options.Length + 3) / 4 * 4;
        var tcpLength = 20 + optionLength + payload.Length;
        var frame = new byte[14 + 20 + tcpLength];
        var span = frame.AsSpan();
        byte[] clientMac = [0x02, 0, 0, 0, 0, 1], serverMac = [0x02, 0, 0, 0, 0, 2];
        serverMac.CopyTo(span);
        clientMac.CopyTo(span[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(span[12..], 0x0800);

        var ip = span.Slice(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + tcpLength));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], ipId);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);   // DF
        ip[8] = 64;
        ip[9] = 6;
        source.GetAddressBytes().CopyTo(ip[12..]);
        destination.GetAddressBytes().CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip, 0));

        var tcp = span.Slice(34, tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], ackFlag ? ack : 0);
        tcp[12] = (byte)((20 + optionLength) / 4 << 4);
        tcp[13] = (byte)((fin ? 0x01 : 0) | (syn ? 0x02 : 0) | (ackFlag ? 0x10 : 0) | (payload.Length > 0 ? 0x08 : 0));
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        options.CopyTo(tcp[20..]);                          // padding stays 0 = end of option list
        payload.CopyTo(tcp[(20 + optionLength)..]);

        uint pseudo = 0;
        var s = source.GetAddressBytes();
        var d = destination.GetAddressBytes();
        pseudo += (uint)(s[0] << 8 | s[1]) + (uint)(s[2] << 8 | s[3]) + (uint)(d[0] << 8 | d[1]) + (uint)(d[2] << 8 | d[3]);
        pseudo += 6 + (uint)tcpLength;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Checksum(tcp, pseudo));
        return frame;
    }

    private static ushort Checksum(ReadOnlySpan<byte> data, uint sum)
    {
        for (var i = 0; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if (data.Length % 2 == 1) sum += (uint)(data[^1] << 8);
        while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
