using System.Buffers;

namespace LatencySmtp.Smtp;

/// <summary>
/// Sans-I/O SMTP server session (RFC 5321, RFC 2920 pipelining, RFC 3030 CHUNKING), classic or
/// greeting-less. Bytes go in through <see cref="Receive"/>, replies come out of <see cref="TakeOutput"/>.
/// Memory is bounded by the limits: an over-long line is discarded, an over-large message is no longer stored.
/// DATA is strict about line ends: only CRLF "." CRLF ends it, and a message holding a bare CR or LF is
/// refused with "550 5.6.2 bare LF/CR not allowed" (never delivered, never guessed at: RFC 5321 §2.3.8).
/// Command lines may end in a bare LF. Output is not bounded here: an adapter passes bounded reads.
/// </summary>
public sealed partial class ServerSession
{
    enum InputState { Command, Data, Bdat }

    readonly ServerOptions _options;
    readonly ServerMode _mode;
    readonly SmtpLimits _limits;
    readonly ArrayBufferWriter<byte> _output = new();

    // Unprocessed input: _input[_inputStart.._inputEnd].
    byte[] _input;
    int _inputStart, _inputEnd;
    readonly int _workingCapacity;
    bool _inputOverflow;     // too much arrived while a delivery was pending

    InputState _state = InputState.Command;
    bool _discardingCommandLine; // a command line exceeded the limit: skip to the next LF
    PendingDelivery? _pending;
    bool _peerEnded;
    bool _closed;

    // Identification (EHLO/HELO/XID).
    string? _clientDomain, _clientSoftware, _transactionId;

    // Mail transaction (§3.3).
    string? _reversePath;
    readonly List<string> _recipients = [];
    bool _bdatSeen;

    public ServerSession(ServerOptions options, ServerMode mode)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _mode = mode;
        _limits = options.Limits;
        if (_limits.MaxCommandLineOctets < 8 || _limits.MaxTextLineOctets < 8)
            throw new ArgumentException("Line limits must be at least 8 octets", nameof(options));
        _workingCapacity = Math.Max(4096, Math.Max(_limits.MaxCommandLineOctets, _limits.MaxTextLineOctets + 1) + 1);
        _input = new byte[_workingCapacity];
    }

    /// <summary>Non-null while the adapter must store a message; input processing pauses meanwhile.</summary>
    public PendingDelivery? PendingDelivery => _pending;

    public bool HasOutput => _output.WrittenCount > 0;

    /// <summary>After 221 (QUIT), 421, or the end of the peer's input: the adapter sends the output and closes.</summary>
    public bool IsClosed => _closed;

    /// <summary>Classic: the 220 greeting (§4.3.1). Greeting-less: nothing, the server speaks only when asked.</summary>
    public void Start()
    {
        if (_mode == ServerMode.Classic)
            Reply(SmtpReply.Single(220, $"{_options.HostName} ESMTP {_options.Software}"));
    }

    public byte[] TakeOutput()
    {
        var bytes = _output.WrittenSpan.ToArray();
        _output.ResetWrittenCount();
        return bytes;
    }

    /// <summary>Buffers (bounded) and processes as far as possible.</summary>
    public void Receive(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty && !_closed && !_peerEnded)
        {
            if (_pending is not null)
            {
                HoldWhilePending(data);
                return;
            }
            Compact();
            // Processing leaves less than a line in the buffer, so there is room; grow rather than spin if not.
            if (_inputEnd == _input.Length) Array.Resize(ref _input, _input.Length + _workingCapacity);
            int n = Math.Min(data.Length, _input.Length - _inputEnd);
            data[..n].CopyTo(_input.AsSpan(_inputEnd));
            _inputEnd += n;
            data = data[n..];
            Process();
        }
    }

    /// <summary>
    /// The peer sent FIN. A transaction cut before its end of data delivers nothing; a message already
    /// complete (<see cref="PendingDelivery"/>) is still delivered and the commands behind it processed.
    /// </summary>
    public void ReceiveEnd()
    {
        if (_closed || _peerEnded) return;
        _peerEnded = true;
        if (_pending is null) FinishInput();
    }

    /// <summary>The adapter stored (or failed to store) the pending message: answer and resume.</summary>
    public void CompleteDelivery(DeliveryResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (_pending is null) throw new InvalidOperationException("No delivery is pending");
        _pending = null;
        Reply(result.Success
            ? SmtpReply.Single(250, result.QueueId is null ? "2.0.0 Ok: queued" : $"2.0.0 Ok: queued as {Sanitize(result.QueueId)}")
            : SmtpReply.Single(451, "4.3.0 Error: queue file write error" + (result.Error is null ? "" : $" ({Sanitize(result.Error)})")));
        ResetTransaction();
        if (_inputOverflow)
        {
            Reply(ServerReplies.TooMuchPipelinedInput);
            _closed = true;
            return;
        }
        Process();
        if (_peerEnded && _pending is null) FinishInput();
    }

    void FinishInput()
    {
        // Anything unfinished (a partial command line, DATA or BDAT without its end) is dropped.
        if (_state != InputState.Command) ResetTransaction();
        _state = InputState.Command;
        _inputStart = _inputEnd = 0;
        _closed = true;
    }

    // While a delivery is pending the bytes behind it wait, up to MaxPipelinedInputOctets.
    void HoldWhilePending(ReadOnlySpan<byte> data)
    {
        if (_inputOverflow) return;
        int held = _inputEnd - _inputStart;
        if ((long)held + data.Length > Math.Max(_limits.MaxPipelinedInputOctets, _workingCapacity))
        {
            _inputOverflow = true;
            return;
        }
        if (_inputEnd + data.Length > _input.Length)
        {
            Compact();
            if (_inputEnd + data.Length > _input.Length)
                Array.Resize(ref _input, Math.Max(_input.Length * 2, _inputEnd + data.Length));
        }
        data.CopyTo(_input.AsSpan(_inputEnd));
        _inputEnd += data.Length;
    }

    void Compact()
    {
        if (_inputStart == 0) return;
        int n = _inputEnd - _inputStart;
        if (n > 0) Buffer.BlockCopy(_input, _inputStart, _input, 0, n);
        _inputStart = 0;
        _inputEnd = n;
        // Give back what a pending delivery made us hold.
        if (_input.Length > _workingCapacity && n <= _workingCapacity / 2)
            Array.Resize(ref _input, _workingCapacity);
    }

    void Process()
    {
        while (!_closed && _pending is null)
        {
            bool progressed = _state switch
            {
                InputState.Command => ProcessCommandLine(),
                InputState.Data => ProcessDataLine(),
                _ => ProcessBdatChunk(),
            };
            if (!progressed) return;
        }
    }

    bool ProcessCommandLine()
    {
        var span = _input.AsSpan(_inputStart, _inputEnd - _inputStart);
        if (span.IsEmpty) return false;
        int lf = span.IndexOf((byte)'\n');
        if (lf < 0)
        {
            if (_discardingCommandLine) _inputStart = _inputEnd;
            else if (span.Length >= _limits.MaxCommandLineOctets)
            {
                // §4.5.3.1.4/§4.5.3.1.10: answer now, then resynchronise at the next LF.
                Reply(ServerReplies.LineTooLong);
                _discardingCommandLine = true;
                _inputStart = _inputEnd;
            }
            return false;
        }
        _inputStart += lf + 1;
        if (_discardingCommandLine)
        {
            _discardingCommandLine = false;
            return true;
        }
        if (lf + 1 > _limits.MaxCommandLineOctets)
        {
            Reply(ServerReplies.LineTooLong);
            return true;
        }
        // Commands tolerate a bare LF terminator (many clients); DATA does not.
        var line = span[..lf];
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        Execute(line);
        return true;
    }

    void Execute(ReadOnlySpan<byte> line)
    {
        if (!CommandParser.TryParse(line, _limits, out var cmd, out var error))
        {
            Reply(error!);
            return;
        }
        var c = cmd!;
        bool identified = _clientDomain is not null;
        switch (c.Verb)
        {
            case SmtpVerb.Ehlo:
                Identify(c.Domain!, null, null);
                Reply(new SmtpReply(250, [
                    _options.HostName, "PIPELINING", "CHUNKING", "8BITMIME",
                    $"SIZE {_limits.MaxMessageOctets}", "ENHANCEDSTATUSCODES", "SMTPUTF8"]));
                break;
            case SmtpVerb.Helo:
                Identify(c.Domain!, null, null);
                Reply(SmtpReply.Single(250, _options.HostName));
                break;
            case SmtpVerb.Xid when _mode == ServerMode.Classic:
                Reply(ServerReplies.CommandUnrecognized);
                break;
            case SmtpVerb.Xid:
                Identify(c.Domain!, c.Software, c.TransactionId);
                // The server's identification, in place of the 220 greeting.
                Reply(SmtpReply.Single(250, $"{_options.HostName} {_options.Software}"));
                break;
            case SmtpVerb.Quit:
                Reply(ServerReplies.Bye);
                _closed = true;
                break;
            case var _ when !identified && (_mode == ServerMode.Greetingless || c.Verb is SmtpVerb.Mail or SmtpVerb.Rcpt or SmtpVerb.Data or SmtpVerb.Bdat):
                if (c.Verb == SmtpVerb.Bdat) StartBdat(c, _mode == ServerMode.Greetingless ? ServerReplies.NeedIdentification : ServerReplies.NeedHello);
                else Reply(_mode == ServerMode.Greetingless ? ServerReplies.NeedIdentification : ServerReplies.NeedHello);
                break;
            case SmtpVerb.Mail:
                Mail(c);
                break;
            case SmtpVerb.Rcpt:
                Rcpt(c);
                break;
            case SmtpVerb.Data:
                if (_reversePath is null) Reply(ServerReplies.NeedMail);
                else if (_recipients.Count == 0) Reply(ServerReplies.NeedRecipient);
                else if (_bdatSeen) Reply(ServerReplies.DataAfterBdat);
                else StartData();
                break;
            case SmtpVerb.Bdat:
                StartBdat(c, _reversePath is null ? ServerReplies.NeedMail
                           : _recipients.Count == 0 ? ServerReplies.NeedRecipient : null);
                break;
            case SmtpVerb.Rset:
                ResetTransaction();
                Reply(ServerReplies.Ok);
                break;
            case SmtpVerb.Noop:
                Reply(ServerReplies.Ok);
                break;
            case SmtpVerb.Vrfy:
                Reply(ServerReplies.CannotVrfy);
                break;
            case SmtpVerb.Help:
                Reply(ServerReplies.Help);
                break;
            default:
                Reply(ServerReplies.CommandUnrecognized);
                break;
        }
    }

    // §4.1.4: EHLO/HELO (and XID) also reset any transaction in progress.
    void Identify(string domain, string? software, string? transactionId)
    {
        ResetTransaction();
        _clientDomain = domain;
        _clientSoftware = software;
        _transactionId = transactionId;
    }

    void Mail(SmtpCommand c)
    {
        if (_reversePath is not null) { Reply(ServerReplies.NestedMail); return; }
        // RFC 1870 §6.1: refuse up front what could not be accepted at the end.
        if (Parameters.Size(c.Parameters) is long size && size > _limits.MaxMessageOctets)
        {
            Reply(ServerReplies.TooMuchMailData);
            return;
        }
        if (!c.Parameters.ContainsKey("SMTPUTF8") && !IsAscii(c.Path!))
        {
            Reply(ServerReplies.Utf8NeedsSmtpUtf8);
            return;
        }
        _reversePath = c.Path!;
        _smtpUtf8 = c.Parameters.ContainsKey("SMTPUTF8");
        Reply(ServerReplies.SenderOk);
    }

    void Rcpt(SmtpCommand c)
    {
        if (_reversePath is null) { Reply(ServerReplies.NeedMail); return; }
        if (_recipients.Count >= _limits.MaxRecipients) { Reply(ServerReplies.TooManyRecipients); return; }
        if (!_smtpUtf8 && !IsAscii(c.Path!)) { Reply(ServerReplies.Utf8NeedsSmtpUtf8); return; }
        _recipients.Add(c.Path!);
        Reply(ServerReplies.RecipientOk);
    }

    bool _smtpUtf8;

    void ResetTransaction()
    {
        _reversePath = null;
        _recipients.Clear();
        _bdatSeen = false;
        _smtpUtf8 = false;
        _message = null;
    }

    MailEnvelope Envelope() => new(_clientDomain!, _reversePath!, _recipients.ToArray(), _clientSoftware, _transactionId);

    void Reply(SmtpReply reply) => _output.Write(reply.ToBytes());

    static bool IsAscii(string s) => System.Text.Ascii.IsValid(s);

    static string Sanitize(string s)
    {
        var chars = s.Where(c => c >= ' ' && c != 0x7F).Take(200).ToArray();
        return new string(chars);
    }
}
