namespace LatencySmtp.Smtp;

/// <summary>Fixed replies of the server, with RFC 3463 enhanced status codes (RFC 2034).</summary>
internal static class ServerReplies
{
    public static readonly SmtpReply Ok = SmtpReply.Single(250, "2.0.0 Ok");
    public static readonly SmtpReply SenderOk = SmtpReply.Single(250, "2.1.0 Ok");
    public static readonly SmtpReply RecipientOk = SmtpReply.Single(250, "2.1.5 Ok");
    public static readonly SmtpReply StartMailInput = SmtpReply.Single(354, "End data with <CR><LF>.<CR><LF>");
    public static readonly SmtpReply Bye = SmtpReply.Single(221, "2.0.0 Bye");
    public static readonly SmtpReply CannotVrfy = SmtpReply.Single(252, "2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
    public static readonly SmtpReply Help = SmtpReply.Single(214, "2.0.0 Commands: EHLO HELO XID MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
    // §4.5.3.1.10
    public static readonly SmtpReply LineTooLong = SmtpReply.Single(500, "5.5.2 Line too long");
    public static readonly SmtpReply TooManyRecipients = SmtpReply.Single(452, "4.5.3 Too many recipients");
    public static readonly SmtpReply TooMuchMailData = SmtpReply.Single(552, "5.3.4 Message size exceeds fixed maximum message size");
    public static readonly SmtpReply CommandUnrecognized = SmtpReply.Single(500, "5.5.2 Error: command not recognized");
    public static readonly SmtpReply ParameterUnsupported = SmtpReply.Single(555, "5.5.4 Unsupported parameter");
    public static readonly SmtpReply NeedHello = SmtpReply.Single(503, "5.5.1 Error: send EHLO/HELO first");
    public static readonly SmtpReply NeedIdentification = SmtpReply.Single(503, "5.5.1 Error: send XID or EHLO first");
    public static readonly SmtpReply NestedMail = SmtpReply.Single(503, "5.5.1 Error: nested MAIL command");
    public static readonly SmtpReply NeedMail = SmtpReply.Single(503, "5.5.1 Error: need MAIL command");
    public static readonly SmtpReply NeedRecipient = SmtpReply.Single(503, "5.5.1 Error: need RCPT command");
    public static readonly SmtpReply DataAfterBdat = SmtpReply.Single(503, "5.5.1 Error: DATA not allowed after BDAT");
    // Bare CR or LF in DATA: rejected outright rather than guessed at, so "\n.\n" can never end the
    // data (RFC 5321 §2.3.8, §4.1.1.4; the "SMTP smuggling" class of bugs).
    public static readonly SmtpReply BareLineEnding = SmtpReply.Single(550, "5.6.2 bare LF/CR not allowed");
    public static readonly SmtpReply TooMuchPipelinedInput = SmtpReply.Single(421, "4.7.0 Too much pipelined input, closing connection");
    public static readonly SmtpReply Utf8NeedsSmtpUtf8 = SmtpReply.Single(553, "5.6.7 Non-ASCII address needs SMTPUTF8");
}
