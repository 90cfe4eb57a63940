using System.Buffers;

namespace LatencySmtp.Smtp;

// Message content: DATA with dot-stuffing (RFC 5321 §4.1.1.4, §4.5.2) and BDAT chunks (RFC 3030).
public sealed partial class ServerSession
{
    ArrayBufferWriter<byte>? _message;
    bool _messageTooBig;       // stopped storing: 552 at the end (§4.5.3.1.10)
    bool _textLineTooLong;     // 500 at the end of data
    bool _bareLineEnding;      // 550 5.6.2 at the end of data
    bool _previousLineEndedWithCrlf;
    bool _discardingTextLine;  // inside an over-long DATA line: skip to its LF
    bool _discardedCr;         // last discarded byte was CR (the LF may come in the next Receive)

    long _bdatRemaining;
    bool _bdatLast;
    SmtpReply? _bdatRefusal;   // BDAT out of sequence: the chunk is still read (RFC 3030 §2), then refused

    void StartData()
    {
        Reply(ServerReplies.StartMailInput);
        NewMessage();
        _state = InputState.Data;
        _previousLineEndedWithCrlf = true;
        _textLineTooLong = _bareLineEnding = _discardingTextLine = _discardedCr = false;
    }

    void NewMessage()
    {
        _message = new ArrayBufferWriter<byte>(4096);
        _messageTooBig = false;
    }

    bool ProcessDataLine()
    {
        var span = _input.AsSpan(_inputStart, _inputEnd - _inputStart);
        if (span.IsEmpty) return false;
        int lf = span.IndexOf((byte)'\n');
        if (lf < 0)
        {
            // §4.5.3.1.6: the limit does not count a dot added for transparency.
            int limit = _limits.MaxTextLineOctets + (!_discardingTextLine && span[0] == (byte)'.' ? 1 : 0);
            if (_discardingTextLine || span.Length >= limit)
            {
                if (!_discardingTextLine && span.IndexOf((byte)'\r') is int cr && cr >= 0 && cr < span.Length - 1)
                    _bareLineEnding = true;
                _textLineTooLong = true;
                _discardingTextLine = true;
                _discardedCr = span[^1] == (byte)'\r';
                _inputStart = _inputEnd;
            }
            return false;
        }
        var raw = span[..lf];
        _inputStart += lf + 1;
        bool crlf = lf > 0 ? raw[^1] == (byte)'\r' : _discardingTextLine && _discardedCr;
        var content = crlf && lf > 0 ? raw[..^1] : raw;
        if (!crlf || content.IndexOf((byte)'\r') >= 0) _bareLineEnding = true;

        if (_discardingTextLine)
        {
            _discardingTextLine = false;
            _previousLineEndedWithCrlf = crlf;
            return true;
        }
        // Only CRLF "." CRLF ends the data: never "\n.\n", "\r.\r" or "\n.\r\n".
        if (crlf && _previousLineEndedWithCrlf && content.Length == 1 && content[0] == (byte)'.')
        {
            EndOfData();
            return true;
        }
        _previousLineEndedWithCrlf = crlf;
        bool stuffed = !content.IsEmpty && content[0] == (byte)'.';
        if (lf + 1 - (stuffed ? 1 : 0) > _limits.MaxTextLineOctets) _textLineTooLong = true;
        if (stuffed) content = content[1..];
        Store(content);
        Store("\r\n"u8);
        return true;
    }

    void EndOfData()
    {
        _state = InputState.Command;
        SmtpReply? refusal = _messageTooBig ? ServerReplies.TooMuchMailData
            : _textLineTooLong ? ServerReplies.LineTooLong
            : _bareLineEnding ? ServerReplies.BareLineEnding
            : null;
        if (refusal is not null)
        {
            // §4.1.1.4: a refused message ends the transaction.
            Reply(refusal);
            ResetTransaction();
            return;
        }
        _pending = new PendingDelivery(Envelope(), _message!.WrittenMemory);
    }

    void Store(ReadOnlySpan<byte> bytes)
    {
        if (_messageTooBig || _message is null) return;
        if (_message.WrittenCount + (long)bytes.Length > _limits.MaxMessageOctets)
        {
            // Stop storing: the rest is read and dropped, memory stays bounded.
            _messageTooBig = true;
            _message = new ArrayBufferWriter<byte>(1);
            return;
        }
        _message.Write(bytes);
    }

    void StartBdat(SmtpCommand c, SmtpReply? refusal)
    {
        _bdatRemaining = c.BdatSize;
        _bdatLast = c.BdatLast;
        _bdatRefusal = refusal;
        if (refusal is null)
        {
            if (!_bdatSeen) NewMessage();
            _bdatSeen = true;
            if (c.BdatSize > _limits.MaxMessageOctets - _message!.WrittenCount) _messageTooBig = true;
        }
        _state = InputState.Bdat;
        if (_bdatRemaining == 0) EndOfChunk();
    }

    bool ProcessBdatChunk()
    {
        int available = _inputEnd - _inputStart;
        if (available == 0) return false;
        int n = (int)Math.Min(available, _bdatRemaining);
        if (_bdatRefusal is null) Store(_input.AsSpan(_inputStart, n));
        _inputStart += n;
        _bdatRemaining -= n;
        if (_bdatRemaining == 0) EndOfChunk();
        return true;
    }

    // RFC 3030 §2: every BDAT gets its reply once its chunk has been read.
    void EndOfChunk()
    {
        _state = InputState.Command;
        if (_bdatRefusal is not null)
        {
            Reply(_bdatRefusal);
            _bdatRefusal = null;
            return;
        }
        if (_messageTooBig)
        {
            Reply(ServerReplies.TooMuchMailData);
            ResetTransaction();
            return;
        }
        if (!_bdatLast)
        {
            Reply(SmtpReply.Single(250, $"2.0.0 {_message!.WrittenCount} octets received"));
            return;
        }
        _pending = new PendingDelivery(Envelope(), _message!.WrittenMemory);
    }
}
