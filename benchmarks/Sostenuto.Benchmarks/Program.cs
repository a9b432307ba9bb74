using BenchmarkDotNet.Running;

namespace Sostenuto.Benchmarks;

public static class Program
{
    /// <summary>Pick benchmarks with --filter, e.g. <c>-- --filter '*CrossFade*' --job short</c>.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
