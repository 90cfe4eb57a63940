using System.Buffers;
using System.Text;

namespace LatencySmtp.Smtp;

/// <summary>
/// Sans-I/O SMTP client for one mail: classic (RFC 5321, one command per reply), pipelined
/// (RFC 2920/3030) or greeting-less (the whole request at once). Replies may arrive in any split.
/// </summary>
public sealed class ClientSession
{
    /// <summary>Transcript command text for the server greeting and for the reply to the end of data.</summary>
    public const string GreetingCommand = "(greeting)", EndOfDataCommand = "(end of data)";

    enum Await { Greeting, Ehlo, Helo, Xid, Mail, Rcpt, Data, EndOfData, Bdat, Quit }

    readonly ClientIdentity _identity;
    readonly MailRequest _request;
    readonly ClientMode _mode;
    readonly int _maxReplyLine;
    readonly Queue<(Await What, string Command)> _awaiting = new();
    readonly List<(string Command, SmtpReply Reply)> _transcript = [];
    readonly MemoryStream _output = new();
    byte[] _input = new byte[1024];
    int _inputLength;
    readonly int _maxInput;
    bool _started, _done, _anyReply;
    bool _stopped; // input is no longer read (malformed reply, overflow)
    bool _grouped; // MAIL, RCPT... and DATA/BDAT went out together: no reply triggers the next one
    int _nextRecipient;
    int _rcptReplies, _acceptedRecipients;
    readonly List<(string, SmtpReply)> _refusedRecipients = new();

    public ClientSession(ClientIdentity identity, MailRequest request, ClientMode mode, SmtpLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(request);
        if (request.Recipients.Count == 0) throw new ArgumentException("At least one recipient is required", nameof(request));
        RequireToken(identity.HostName, "client host name", nameof(identity));
        RequireToken(identity.Software, "software token", nameof(identity));
        if (identity.TransactionId is { } txid) RequireToken(txid, "transaction id", nameof(identity));
        RequirePath(request.ReversePath, "reverse-path", nameof(request));
        foreach (var to in request.Recipients) RequirePath(to, "recipient", nameof(request));
        _identity = identity;
        _request = request;
        _mode = mode;
        _maxReplyLine = (limits ?? SmtpLimits.Rfc5321).MaxReplyLineOctets;
        _maxInput = _maxReplyLine * (ReplyParser.MaxLines + 1);
    }

    /// <summary>
    /// A value that goes into a command line must stay one argument of that command: a CR or LF would end the
    /// line and start another command (injection), a space or angle bracket would end the argument early.
    /// Syntax beyond that (RFC 5321 §4.1.2) is the server's to judge.
    /// </summary>
    private static void RequireToken(string value, string what, string param)
    {
        if (string.IsNullOrEmpty(value)) throw new ArgumentException($"empty {what}", param);
        RequirePath(value, what, param);
    }

    /// <summary>As <see cref="RequireToken"/>, but empty is allowed: the null reverse-path &lt;&gt;.</summary>
    private static void RequirePath(string value, string what, string param)
    {
        ArgumentNullException.ThrowIfNull(value, param);
        foreach (var c in value)
            if (c <= ' ' || c == 0x7F || c == '<' || c == '>')
                throw new ArgumentException($"{what} '{Printable(value)}' contains {(c is '\r' or '\n' ? "a line break" : $"U+{(int)c:X4}")}, which cannot go into an SMTP command", param);
    }

    private static string Printable(string s) => s.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public ClientOutcome Outcome { get; private set; } = ClientOutcome.Pending;
    /// <summary>QUIT answered, or the outcome decided without anything left to wait for (rejected, failed, stream ended).</summary>
    public bool IsDone => _done;
    /// <summary>The reply that decided <see cref="Outcome"/>.</summary>
    public SmtpReply? FinalReply { get; private set; }
    /// <summary>The 220 greeting text (classic, pipelined) or the XID reply text (greeting-less).</summary>
    public string? ServerIdentity { get; private set; }
    /// <summary>Clear text of what went wrong when <see cref="Outcome"/> is Failed.</summary>
    public string? Error { get; private set; }
    /// <summary>ESMTP keywords of the EHLO reply, upper-case, with their parameters.</summary>
    public IReadOnlyDictionary<string, string> Extensions => _extensions;
    public IReadOnlyList<(string Command, SmtpReply Reply)> Transcript => _transcript;
    /// <summary>Recipients the server refused (4xx/5xx to RCPT); an accepted mail went to the others.</summary>
    public IReadOnlyList<(string Recipient, SmtpReply Reply)> RefusedRecipients => _refusedRecipients;
    public bool HasOutput => _output.Length > 0;

    readonly Dictionary<string, string> _extensions = new(StringComparer.Ordinal);

    public byte[] TakeOutput()
    {
        var bytes = _output.ToArray();
        _output.SetLength(0);
        return bytes;
    }

    /// <summary>Greeting-less: the whole request becomes output. Classic/pipelined: nothing (waits for 220).</summary>
    public void Start()
    {
        if (_started) throw new InvalidOperationException("Already started");
        _started = true;
        if (_mode == ClientMode.Greetingless)
        {
            _output.Write(GreetinglessRequest.Build(_identity, _request));
            _grouped = true;
            var commands = GreetinglessRequest.Commands(_identity, _request);
            _awaiting.Enqueue((Await.Xid, commands[0]));
            _awaiting.Enqueue((Await.Mail, commands[1]));
            for (int i = 0; i < _request.Recipients.Count; i++) _awaiting.Enqueue((Await.Rcpt, commands[2 + i]));
            _awaiting.Enqueue((Await.Bdat, commands[^2]));
            _awaiting.Enqueue((Await.Quit, commands[^1]));
        }
        else _awaiting.Enqueue((Await.Greeting, GreetingCommand));
    }

    public void Receive(ReadOnlySpan<byte> data)
    {
        if (_stopped || data.IsEmpty) return;
        if (_inputLength + data.Length > _input.Length)
            Array.Resize(ref _input, Math.Max(_input.Length * 2, _inputLength + data.Length));
        data.CopyTo(_input.AsSpan(_inputLength));
        _inputLength += data.Length;

        var buffer = new ReadOnlySequence<byte>(_input, 0, _inputLength);
        try
        {
            while (!_stopped && ReplyParser.TryParse(ref buffer, out var reply, _maxReplyLine))
                OnReply(reply!);
        }
        catch (SmtpProtocolException e)
        {
            Fail("Malformed reply: " + e.Message);
            return;
        }
        int consumed = _inputLength - (int)buffer.Length;
        Buffer.BlockCopy(_input, consumed, _input, 0, _inputLength - consumed);
        _inputLength -= consumed;
        // The parser already refuses over-long lines and replies; this keeps the buffer bounded regardless.
        if (_inputLength > _maxInput) Fail($"Reply longer than {_maxInput} octets");
        else if (_input.Length > 4 * 1024 && _inputLength < _input.Length / 4) Array.Resize(ref _input, Math.Max(1024, _inputLength * 2));
    }

    /// <summary>The server closed: Failed unless the outcome is already decided.</summary>
    public void ReceiveEnd()
    {
        if (Outcome == ClientOutcome.Pending)
            Fail(_anyReply ? "Connection closed by the server during the transaction" : "Connection closed by the server before any reply");
        _done = true;
    }

    void OnReply(SmtpReply reply)
    {
        _anyReply = true;
        // Greeting-less towards a server that greets anyway (cf. Exim PIPE_CONNECT): take it as identification.
        if (_mode == ClientMode.Greetingless && _transcript.Count == 0 && reply.Code == 220
            && _awaiting.TryPeek(out var head) && head.What == Await.Xid)
        {
            _transcript.Add((GreetingCommand, reply));
            ServerIdentity = FirstLine(reply);
            return;
        }
        if (!_awaiting.TryDequeue(out var awaited))
        {
            if (!_done) Fail($"Unexpected reply: {reply}");
            return;
        }
        _transcript.Add((awaited.Command, reply));
        if (Outcome != ClientOutcome.Pending)
        {
            // Outcome decided: later replies are only recorded; the QUIT reply ends the session.
            if (awaited.What == Await.Quit) _done = true;
            // A pipelined DATA in flight held the QUIT back; once it is refused the QUIT can go.
            else if (awaited.What == Await.Data && reply.Code != 354 && Outcome == ClientOutcome.Rejected
                     && !_awaiting.Any(a => a.What == Await.Quit))
                Send(Await.Quit, "QUIT");
            return;
        }
        switch (awaited.What)
        {
            case Await.Greeting:
                if (reply.Code != 220) { Unexpected(reply, "greeting"); return; }
                ServerIdentity = FirstLine(reply);
                Send(Await.Ehlo, $"EHLO {_identity.HostName}");
                break;
            case Await.Ehlo:
                if (reply.IsPermanentFailure) { Send(Await.Helo, $"HELO {_identity.HostName}"); return; }
                if (!reply.IsPositiveCompletion) { Unexpected(reply, "EHLO"); return; }
                ReadExtensions(reply);
                SendTransaction();
                break;
            case Await.Helo:
                if (!reply.IsPositiveCompletion) { Unexpected(reply, "HELO"); return; }
                SendTransaction();
                break;
            case Await.Xid:
                if (!reply.IsPositiveCompletion) { Unexpected(reply, "XID"); return; }
                ServerIdentity = FirstLine(reply);
                break;
            case Await.Mail:
                if (!reply.IsPositiveCompletion) { Unexpected(reply, "MAIL"); return; }
                if (!_grouped) SendNextRecipientOrData();
                break;
            case Await.Rcpt:
            {
                // RFC 5321 §3.3: one refused recipient does not end the transaction; the message goes to the
                // others. Only when every recipient is refused is the mail refused.
                var recipient = _request.Recipients[_rcptReplies++];
                if (reply.IsPositiveCompletion) _acceptedRecipients++;
                else if (reply.IsTransientFailure || reply.IsPermanentFailure) _refusedRecipients.Add((recipient, reply));
                else { Unexpected(reply, "RCPT"); return; }
                bool last = _rcptReplies == _request.Recipients.Count;
                if (last && _acceptedRecipients == 0) { Unexpected(reply, "RCPT"); return; }
                if (!_grouped) SendNextRecipientOrData();
                break;
            }
            case Await.Data:
                if (reply.Code != 354) { Unexpected(reply, "DATA"); return; }
                _output.Write(DotStuffing.Stuff(_request.Message.Span));
                _awaiting.Enqueue((Await.EndOfData, EndOfDataCommand));
                break;
            case Await.EndOfData:
            case Await.Bdat:
                if (reply.Code != 250) { Unexpected(reply, "end of data"); return; }
                Outcome = ClientOutcome.Accepted;
                FinalReply = reply;
                if (_mode != ClientMode.Greetingless) Send(Await.Quit, "QUIT");
                break;
            case Await.Quit:
                // QUIT before the outcome was decided: the server ended the transaction early.
                Unexpected(reply, "QUIT");
                break;
        }
    }

    // After the EHLO/HELO reply: one command at a time, or the whole group (RFC 2920 §3.1).
    void SendTransaction()
    {
        bool pipelining = _mode == ClientMode.Pipelined && _extensions.ContainsKey("PIPELINING");
        if (!pipelining)
        {
            Send(Await.Mail, MailCommand());
            return;
        }
        _grouped = true;
        Send(Await.Mail, MailCommand());
        foreach (var to in _request.Recipients) Send(Await.Rcpt, ClientCommands.Rcpt(to));
        _nextRecipient = _request.Recipients.Count;
        if (_extensions.ContainsKey("CHUNKING"))
        {
            // RFC 3030 §4.2: BDAT LAST and its chunk may close the group.
            Send(Await.Bdat, $"BDAT {_request.Message.Length} LAST");
            _output.Write(_request.Message.Span);
        }
        else Send(Await.Data, "DATA");
    }

    // RFC 1870 §3: SIZE only when the server offered it.
    string MailCommand() => ClientCommands.Mail(_request, withSize: _extensions.ContainsKey("SIZE"));

    void SendNextRecipientOrData()
    {
        if (_nextRecipient < _request.Recipients.Count)
            Send(Await.Rcpt, ClientCommands.Rcpt(_request.Recipients[_nextRecipient++]));
        else Send(Await.Data, "DATA");
    }

    void ReadExtensions(SmtpReply ehlo)
    {
        // §4.1.1.1: the first line is the greeting, each further line an ehlo-keyword [SP params].
        foreach (var line in ehlo.Lines.Skip(1))
        {
            int sp = line.IndexOf(' ');
            var keyword = (sp < 0 ? line : line[..sp]).ToUpperInvariant();
            if (keyword.Length > 0) _extensions[keyword] = sp < 0 ? "" : line[(sp + 1)..];
        }
    }

    void Send(Await what, string command)
    {
        _output.Write(Encoding.UTF8.GetBytes(command + "\r\n"));
        _awaiting.Enqueue((what, command));
    }

    // A reply that does not let the transaction go on.
    void Unexpected(SmtpReply reply, string step)
    {
        FinalReply = reply;
        if (reply.IsTransientFailure || reply.IsPermanentFailure)
        {
            Outcome = ClientOutcome.Rejected;
            // A polite QUIT (§4.1.1.10), unless one is already on its way (greeting-less) or a pipelined
            // DATA is in flight (its 354 would turn the QUIT into message text; closing drops it instead).
            if (!_awaiting.Any(a => a.What is Await.Quit or Await.Data))
                Send(Await.Quit, "QUIT");
            _done = true;
        }
        else Fail($"Unexpected reply to {step}: {reply}");
    }

    // A decided outcome stands: a garbled reply to the QUIT does not undo an accepted mail.
    void Fail(string error)
    {
        if (Outcome == ClientOutcome.Pending)
        {
            Outcome = ClientOutcome.Failed;
            Error = error;
        }
        _done = true;
        _stopped = true;
    }

    static string FirstLine(SmtpReply r) => r.Lines.Count > 0 ? r.Lines[0] : "";
}
