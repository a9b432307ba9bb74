using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// Turns a time-ordered MIDI stream into one feature vector per model frame, as the manifest's
/// <c>conditioning.features</c> asks (docs/model-format.md). It keeps the state of every key and the
/// pedal; <see cref="CompleteFrame"/> is called once per frame, in order, with that frame's events.
/// </summary>
public sealed class ConditioningTracker
{
    const int Pitches = ConditioningFeatures.PitchCount;

    readonly ConditioningFeature[] _features;
    readonly int _modelRate;
    readonly int _hop;

    // Key state that carries across frames.
    readonly bool[] _held = new bool[Pitches];
    readonly bool[] _sounding = new bool[Pitches];
    readonly float[] _velocity = new float[Pitches];
    readonly double[] _onsetModelSample = new double[Pitches];
    bool _pedal;

    // What happened inside the frame being completed.
    readonly float[] _onset = new float[Pitches];
    readonly float[] _onsetOffset = new float[Pitches];
    readonly bool[] _heldInFrame = new bool[Pitches];

    public ConditioningTracker(IReadOnlyList<ConditioningFeature> features, int modelRate, int hopLength)
    {
        _features = features.ToArray();
        _modelRate = modelRate;
        _hop = hopLength;
        Size = _features.Sum(ConditioningFeatures.Size);
    }

    /// <summary>Width of one frame's feature vector.</summary>
    public int Size { get; }

    /// <summary>Takes over <paramref name="source"/>'s key and pedal state (a snapshot to roll back to). Allocation-free.</summary>
    public void CopyStateFrom(ConditioningTracker source)
    {
        source._held.AsSpan().CopyTo(_held);
        source._sounding.AsSpan().CopyTo(_sounding);
        source._velocity.AsSpan().CopyTo(_velocity);
        source._onsetModelSample.AsSpan().CopyTo(_onsetModelSample);
        _pedal = source._pedal;
    }

    /// <summary>Whether a key is held or sustained by the pedal (what the model hears as sounding).</summary>
    public bool AnySounding => Array.IndexOf(_sounding, true) >= 0;

    /// <summary>Starts the next frame: clears what is per-frame.</summary>
    public void BeginFrame()
    {
        Array.Clear(_onset);
        Array.Clear(_onsetOffset);
        Array.Clear(_heldInFrame);
    }

    /// <summary>
    /// Applies one event of the current frame. <paramref name="modelSample"/> is its position in model
    /// samples from the stream's origin; <paramref name="offsetInFrame"/> its place in the frame, in [0, 1).
    /// </summary>
    public void Apply(MidiMessage message, double modelSample, float offsetInFrame)
    {
        if (message.IsNoteOn)
        {
            int key = message.Data1;
            float velocity = message.Data2 / 127f;
            _held[key] = true;
            _heldInFrame[key] = true;
            _sounding[key] = true;
            _velocity[key] = velocity;
            _onsetModelSample[key] = modelSample;
            if (velocity >= _onset[key])
            {
                _onset[key] = velocity;
                _onsetOffset[key] = offsetInFrame;
            }
        }
        else if (message.IsNoteOff)
        {
            int key = message.Data1;
            _held[key] = false;
            if (!_pedal) _sounding[key] = false;
        }
        else if (message.IsControlChange)
        {
            switch (message.Data1)
            {
                case MidiMessage.SustainPedalController:
                    SetPedal(message.Data2 >= 64);
                    break;
                case MidiMessage.ResetAllControllersController:
                    // Controllers back to their defaults; of those the model hears, that is the pedal up.
                    SetPedal(false);
                    break;
                case MidiMessage.AllNotesOffController:
                case MidiMessage.AllSoundOffController:
                    ReleaseAll();
                    break;
            }
        }
    }

    void SetPedal(bool down)
    {
        if (_pedal && !down)
            for (int k = 0; k < Pitches; k++) _sounding[k] = _held[k];
        _pedal = down;
    }

    /// <summary>Releases every key and lifts the pedal (all notes off, all sound off, flush).</summary>
    void ReleaseAll()
    {
        Array.Clear(_held);
        Array.Clear(_sounding);
        _pedal = false;
    }

    /// <summary>Writes the features of the frame that ends at model sample <paramref name="frameEndModelSample"/>.</summary>
    public void CompleteFrame(long frameEndModelSample, Span<float> destination)
    {
        if (destination.Length != Size) throw new ArgumentException($"feature row has {destination.Length} values, expected {Size}");
        int at = 0;
        foreach (var feature in _features)
        {
            var row = destination.Slice(at, ConditioningFeatures.Size(feature));
            for (int k = 0; k < row.Length && feature != ConditioningFeature.Pedal; k++)
            {
                bool sounding = _sounding[k] || _onset[k] > 0;
                row[k] = feature switch
                {
                    ConditioningFeature.NoteOnset => _onset[k],
                    ConditioningFeature.OnsetOffset => _onsetOffset[k],
                    ConditioningFeature.NoteHeld => _heldInFrame[k] || _held[k] ? 1f : 0f,
                    ConditioningFeature.NoteSounding => sounding ? 1f : 0f,
                    ConditioningFeature.NoteVelocity => sounding ? _velocity[k] : 0f,
                    ConditioningFeature.NoteAge => sounding ? (float)((frameEndModelSample - _onsetModelSample[k]) / _modelRate) : 0f,
                    _ => 0f,
                };
            }
            if (feature == ConditioningFeature.Pedal) row[0] = _pedal ? 1f : 0f;
            at += row.Length;
        }
    }
}
