using System.Diagnostics;

namespace LatencySmtp.Transport.Linux;

/// <summary>
/// The one clock of the testbed. On Linux .NET reads Stopwatch from clock_gettime(CLOCK_MONOTONIC)
/// with Stopwatch.Frequency = 10^9, so a Stopwatch tick is a CLOCK_MONOTONIC nanosecond and these
/// ticks can be handed to clock_nanosleep directly (checked by the integration tests through
/// <see cref="ReadClockMonotonicNanoseconds"/>). Other frequencies are converted, not assumed.
/// </summary>
public static unsafe class MonotonicClock
{
    private const long NanosecondsPerSecond = 1_000_000_000;

    /// <summary>Stopwatch ticks (CLOCK_MONOTONIC nanoseconds on Linux).</summary>
    public static long NowTicks => Stopwatch.GetTimestamp();

    public static TimeSpan Now => TicksToTimeSpan(Stopwatch.GetTimestamp());

    public static long TimeSpanToTicks(TimeSpan span) =>
        Stopwatch.Frequency == NanosecondsPerSecond ? span.Ticks * 100 : (long)((Int128)span.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond);

    public static TimeSpan TicksToTimeSpan(long ticks) =>
        new(Stopwatch.Frequency == NanosecondsPerSecond ? ticks / 100 : (long)((Int128)ticks * TimeSpan.TicksPerSecond / Stopwatch.Frequency));

    /// <summary>clock_gettime(CLOCK_MONOTONIC) in nanoseconds, read directly (not through Stopwatch).</summary>
    public static long ReadClockMonotonicNanoseconds()
    {
        LibC.Timespec ts;
        if (LibC.clock_gettime(LibC.CLOCK_MONOTONIC, &ts) != 0) throw LibC.Error("clock_gettime(CLOCK_MONOTONIC)");
        return ts.Seconds * NanosecondsPerSecond + ts.Nanoseconds;
    }

    /// <summary>
    /// Sleeps until the absolute time <paramref name="stopwatchTicks"/> with
    /// clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME): no spinning, no drift from relative sleeps,
    /// restarted after signals. Returns at once when the time has passed. Wake-up lateness is the
    /// thread's timer slack (50 µs by default, see <see cref="MinimizeTimerSlack"/>) plus scheduling.
    /// </summary>
    public static void SleepUntil(long stopwatchTicks)
    {
        long ns = Stopwatch.Frequency == NanosecondsPerSecond
            ? stopwatchTicks
            : (long)((Int128)stopwatchTicks * NanosecondsPerSecond / Stopwatch.Frequency);
        if (ns <= 0) return;
        var request = new LibC.Timespec { Seconds = ns / NanosecondsPerSecond, Nanoseconds = ns % NanosecondsPerSecond };
        int error;
        while ((error = LibC.clock_nanosleep(LibC.CLOCK_MONOTONIC, LibC.TIMER_ABSTIME, &request, null)) == LibC.EINTR) { }
        if (error != 0) throw new IOException($"clock_nanosleep failed: errno {error}", error);
    }

    /// <summary>Sets the calling thread's timer slack to 1 ns (prctl PR_SET_TIMERSLACK): the kernel
    /// would otherwise defer each timed wake-up by up to 50 µs to batch it with others.</summary>
    public static void MinimizeTimerSlack()
    {
        if (LibC.prctl(LibC.PR_SET_TIMERSLACK, 1, 0, 0, 0) != 0) throw LibC.Error("prctl(PR_SET_TIMERSLACK)");
    }
}
