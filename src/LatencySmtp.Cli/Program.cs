Console.WriteLine("latency-smtp");
