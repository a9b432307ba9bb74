using System.Globalization;
using System.Reflection;
using Sostenuto.Engine.Serving;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Protocol;

/// <summary>
/// The engine's parameter ids are listed once in tests/protocol-vectors/engine_parameters.txt; the C++
/// bridge's tests check <c>bridge::EngineParameter</c> against the same file. A parameter added on one
/// side only fails here or there.
/// </summary>
public class EngineParameterVectorTests
{
    static Dictionary<string, uint> Listed()
    {
        var listed = new Dictionary<string, uint>();
        foreach (var raw in File.ReadAllLines(Path.Combine(RepositoryPaths.Root, "tests", "protocol-vectors", "engine_parameters.txt")))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var parts = line.Split(' ', 2);
            var name = string.Concat(parts[1].Split('_').Select(w => char.ToUpperInvariant(w[0]) + w[1..]));
            listed.Add(name, uint.Parse(parts[0], CultureInfo.InvariantCulture));
        }
        return listed;
    }

    [Fact]
    public void EngineParametersMirrorTheSharedList()
    {
        var declared = typeof(EngineParameters)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(uint))
            .ToDictionary(f => f.Name, f => (uint)f.GetRawConstantValue()!);
        Assert.Equal(Listed().OrderBy(p => p.Value), declared.OrderBy(p => p.Value));
    }
}
