// The integration tests share two cores with real-time delay lines and measure time across them:
// run them one class at a time so one test's load does not become another's latency.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
