using System.CommandLine;
using LatencySmtp.Testbed;

namespace LatencySmtp.Cli.Commands;

internal static class TestbedCommand
{
    public static Command Create()
    {
        var delay = new Option<string>("--delay") { Description = "one-way delay each way, e.g. 25ms", DefaultValueFactory = _ => "25ms" };
        var json = new Option<bool>("--json") { Description = "print the namespaces and addresses as JSON" };
        var up = new Command("up", "Create a client/server namespace pair joined by the delay line, and leave it for manual work") { delay, json };
        up.SetAction(pr => Endpoints.Guard(() =>
        {
            Endpoints.RequireRoot("testbed up");
            var d = ParseDuration(pr.GetValue(delay)!);
            var state = TestbedCommands.Up(new TestbedOptions { DelayClientToServer = d, DelayServerToClient = d, OwnedByThisProcess = false });
            Console.WriteLine(pr.GetValue(json) ? state.ToJson() : Describe(state));
            return Task.FromResult(0);
        }));
        var name = new Option<string?>("--name") { Description = "testbed to remove (default: all made by testbed up)" };
        var down = new Command("down", "Remove testbeds made by testbed up: namespaces, nft tables, delay line") { name };
        down.SetAction(pr => Endpoints.Guard(() =>
        {
            Endpoints.RequireRoot("testbed down");
            var removed = TestbedCommands.Down(pr.GetValue(name));
            Console.WriteLine($"removed {removed} testbed(s)");
            return Task.FromResult(0);
        }));
        return new Command("testbed", "Manage the namespace testbed") { up, down };
    }

    private static string Describe(TestbedState s) => $$"""
        testbed {{s.Name}} is up ({{s.EmulatorBackend}}, {{s.DelayClientToServerMs}} ms client->server, {{s.DelayServerToClientMs}} ms server->client)
          client  namespace {{s.ClientNamespace}}, {{s.ClientInterface}} {{s.ClientAddress}}/{{s.PrefixLength}}
          server  namespace {{s.ServerNamespace}}, {{s.ServerInterface}} {{s.ServerAddress}}/{{s.PrefixLength}}
          try:    ip netns exec {{s.ClientNamespace}} ping -c 3 {{s.ServerAddress}}
          remove: latency-smtp testbed down --name {{s.Name}}
        """;

    public static TimeSpan ParseDuration(string text)
    {
        text = text.Trim().ToLowerInvariant();
        double Num(string s) => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture);
        if (text.EndsWith("ms", StringComparison.Ordinal)) return TimeSpan.FromMilliseconds(Num(text[..^2]));
        if (text.EndsWith("us", StringComparison.Ordinal)) return TimeSpan.FromMicroseconds(Num(text[..^2]));
        if (text.EndsWith('s')) return TimeSpan.FromSeconds(Num(text[..^1]));
        return TimeSpan.FromMilliseconds(Num(text));
    }
}
