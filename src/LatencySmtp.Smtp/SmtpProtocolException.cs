namespace LatencySmtp.Smtp;

/// <summary>
/// The peer broke the SMTP grammar in a way the session cannot recover from (a malformed reply).
/// Thrown only by <see cref="ReplyParser"/>; <see cref="ClientSession"/> catches it and fails.
/// </summary>
public sealed class SmtpProtocolException : Exception
{
    public SmtpProtocolException(string message) : base(message) { }
    public SmtpProtocolException(string message, Exception inner) : base(message, inner) { }
}
