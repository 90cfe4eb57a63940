using LatencySmtp.Testbed;

namespace LatencySmtp.IntegrationTests.Testbed;

/// <summary>The delay line's sans-I/O parts; no root needed.</summary>
public class DelayLinePartsTests
{
    [Fact]
    public void DelayQueueKeepsOrderAndReleaseTimes()
    {
        var queue = new DelayQueue(capacityBytes: 4096, capacityFrames: 8);
        Assert.False(queue.TryPeekRelease(0, out _));
        for (int i = 0; i < 5; i++) Assert.True(queue.TryEnqueue(100 + i, [(byte)i, (byte)i, (byte)i]));
        for (int i = 0; i < 5; i++)
        {
            Assert.True(queue.TryPeekRelease(0, out long release));
            Assert.Equal(100 + i, release);
            Assert.Equal(new byte[] { (byte)i, (byte)i, (byte)i }, queue.PeekFrame().ToArray());
            queue.RemoveHead();
        }
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void DelayQueueDropsAtTheTailWhenFramesOrBytesRunOut()
    {
        var byFrames = new DelayQueue(capacityBytes: 4096, capacityFrames: 2);
        Assert.True(byFrames.TryEnqueue(1, new byte[10]));
        Assert.True(byFrames.TryEnqueue(2, new byte[10]));
        Assert.False(byFrames.TryEnqueue(3, new byte[10]));
        Assert.Equal(1, byFrames.OverflowDrops);

        var byBytes = new DelayQueue(capacityBytes: 4096, capacityFrames: 100);
        Assert.True(byBytes.TryEnqueue(1, new byte[2000]));
        Assert.True(byBytes.TryEnqueue(2, new byte[2000]));
        Assert.False(byBytes.TryEnqueue(3, new byte[100]));   // 96 bytes left
        Assert.True(byBytes.TryEnqueue(3, new byte[96]));
        Assert.Equal(1, byBytes.OverflowDrops);
    }

    [Fact]
    public void DelayQueueWrapsAroundWithoutCorruptingQueuedFrames()
    {
        var queue = new DelayQueue(capacityBytes: 4096, capacityFrames: 64);
        var random = new Random(7);
        var expected = new Queue<byte[]>();
        long release = 0;
        for (int step = 0; step < 5000; step++)
        {
            if (random.Next(2) == 0)
            {
                var frame = new byte[random.Next(1, 1500)];
                random.NextBytes(frame);
                if (queue.TryEnqueue(++release, frame)) expected.Enqueue(frame);
            }
            else if (expected.Count > 0)
            {
                Assert.Equal(expected.Dequeue(), queue.PeekFrame().ToArray());
                queue.RemoveHead();
            }
            Assert.Equal(expected.Count, queue.Count);
        }
        Assert.True(queue.OverflowDrops > 0, "the test must also exercise a full queue");
    }

    [Fact]
    public void LinkDirectionDelaysEachFrameByTheConfiguredTicks()
    {
        var link = new LinkDirection(delayTicks: 25_000_000);
        Assert.True(link.TryAdmit(1_000, 60, out long first));
        Assert.Equal(25_001_000, first);
        Assert.True(link.TryAdmit(5_000, 1514, out long second));
        Assert.Equal(25_005_000, second);
    }

    [Fact]
    public void DelayLineSettingsRoundTripThroughTheCommandLine()
    {
        var settings = new DelayLineSettings
        {
            ClientInterface = "veth-c",
            ServerInterface = "veth-s",
            ClientToServer = LinkParameters.WithDelay(TimeSpan.FromMilliseconds(25.5)),
            ServerToClient = LinkParameters.WithDelay(TimeSpan.FromMilliseconds(3)),
            ParentProcessId = 4242,
            Detach = true,
            RealtimePriority = 0,
            QueueBytes = 1 << 20,
        };
        Assert.Equal(settings, DelayLineSettings.Parse(settings.ToArguments()));
    }

    [Theory]
    [InlineData("--client-interface", "a")]                                                   // server interface missing
    [InlineData("--client-interface", "a", "--server-interface", "b", "--bogus", "1")]
    [InlineData("--client-interface", "a", "--server-interface", "b", "--client-to-server-delay-ns", "-5")]
    [InlineData("--client-interface", "a", "--server-interface", "b", "--server-to-client-loss", "1")]
    [InlineData("--client-interface", "a", "--server-interface", "b", "--parent-pid")]
    [InlineData("--client-interface", "a", "--client-interface", "b", "--server-interface", "c")]
    [InlineData("--client-interface", "a;rm", "--server-interface", "b")]
    public void DelayLineSettingsRejectBadCommandLines(params string[] args) =>
        Assert.Throws<FormatException>(() => DelayLineSettings.Parse(args));

    [Fact]
    public void DelayLineProgramRejectsBadArgumentsWithExitCode2() =>
        Assert.Equal(2, DelayLineProgram.Main(["--nonsense", "1"]));

    [Fact]
    public void TestbedNamesCarryTheOwnerPid()
    {
        Assert.True(TestbedNames.TryParseOwner("lsm-1234-7", out int pid));
        Assert.Equal(1234, pid);
        Assert.False(TestbedNames.TryParseOwner("lsm-1234-7-c", out _));
        Assert.False(TestbedNames.TryParseOwner("mybed", out _));
        Assert.Equal(["lsm-1-2-c", "lsm-1-2-m", "lsm-1-2-s"], TestbedNames.Namespaces("lsm-1-2"));
        Assert.Equal("lsm_1_2", TestbedNames.NftTable("lsm-1-2"));
        Assert.False(TestbedNames.IsValid("bad name"));
        Assert.False(TestbedNames.IsValid("-x"));
        Assert.True(TestbedNames.IsValid("lsm-1-2"));
    }

    [Fact]
    public void LatenessHistogramReportsPercentilesInMicrosecondBuckets()
    {
        var histogram = new LatenessHistogram();
        for (int i = 1; i <= 100; i++) histogram.Record(TimeSpan.FromTicks(i * 10 - 5));   // 0.5, 1.5, ... 99.5 µs
        Assert.Equal(TimeSpan.FromTicks(500), histogram.Percentile(0.5));
        Assert.Equal(TimeSpan.FromTicks(990), histogram.Percentile(0.99));
        Assert.Equal(TimeSpan.FromTicks(995), histogram.Max);
        Assert.Equal(100, histogram.Count);
    }
}
