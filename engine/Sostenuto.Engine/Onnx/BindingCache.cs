using Microsoft.ML.OnnxRuntime;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// The native <see cref="OrtIoBinding"/>s of one <see cref="PreparedRun"/>, one per distinct set
/// of bound tensors, most recently used first. Finding the binding for the current tensors is a
/// comparison of references, so a run whose tensors were bound before allocates nothing; a new
/// set is bound once (that allocates) and the least recently used beyond <see cref="Capacity"/>
/// is released.
/// <para>
/// Each entry keeps its tensors referenced: the native binding holds their OrtValues, which
/// point into the tensors' pinned arrays, so the arrays must stay reachable for as long as the
/// binding exists, even if the caller has dropped every reference of its own.
/// </para>
/// </summary>
internal sealed class BindingCache : IDisposable
{
    /// <summary>Enough for ping-pong state (two sets) with room to spare.</summary>
    public const int Capacity = 4;

    readonly OnnxSession _session;
    readonly string[] _inputNames;
    readonly string[] _outputNames;
    readonly List<Entry> _entries = new(Capacity + 1);

    sealed record Entry(OrtIoBinding Binding, IOrtTensor[] Tensors);

    public BindingCache(OnnxSession session, string[] inputNames, string[] outputNames)
    {
        _session = session;
        _inputNames = inputNames;
        _outputNames = outputNames;
    }

    /// <summary>
    /// The binding of <paramref name="tensors"/> (inputs then outputs, all non-null). With
    /// <paramref name="rebindInputs"/> the inputs are bound again first, for execution providers
    /// that copy inputs to their device at bind time.
    /// </summary>
    public OrtIoBinding For(IOrtTensor?[] tensors, bool rebindInputs)
    {
        for (int e = 0; e < _entries.Count; e++)
        {
            var entry = _entries[e];
            if (!SameTensors(entry.Tensors, tensors)) continue;
            if (e != 0)
            {
                // Most recent first: ping-pong finds its binding within two comparisons.
                _entries.RemoveAt(e);
                _entries.Insert(0, entry);
            }
            if (rebindInputs) BindInputs(entry.Binding, entry.Tensors);
            return entry.Binding;
        }
        return Add(tensors!);
    }

    public void Dispose()
    {
        foreach (var entry in _entries) entry.Binding.Dispose();
        _entries.Clear();
    }

    OrtIoBinding Add(IOrtTensor?[] tensors)
    {
        var snapshot = new IOrtTensor[tensors.Length];
        Array.Copy(tensors, snapshot, tensors.Length);
        var binding = _session.Session.CreateIoBinding();
        try
        {
            BindInputs(binding, snapshot);
            for (int i = 0; i < _outputNames.Length; i++)
                binding.BindOutput(_outputNames[i], snapshot[_inputNames.Length + i].Value);
        }
        catch
        {
            binding.Dispose();
            throw;
        }
        _entries.Insert(0, new Entry(binding, snapshot));
        if (_entries.Count > Capacity)
        {
            _entries[^1].Binding.Dispose();
            _entries.RemoveAt(_entries.Count - 1);
        }
        return binding;
    }

    void BindInputs(OrtIoBinding binding, IOrtTensor[] tensors)
    {
        for (int i = 0; i < _inputNames.Length; i++)
            binding.BindInput(_inputNames[i], tensors[i].Value);
    }

    static bool SameTensors(IOrtTensor[] a, IOrtTensor?[] b)
    {
        for (int i = 0; i < a.Length; i++)
            if (!ReferenceEquals(a[i], b[i])) return false;
        return true;
    }
}
