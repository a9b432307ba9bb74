using System.Buffers;
using System.Text;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Serving;
using Sostenuto.Engine.Tests.Serving;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Fuzz;

/// <summary>
/// Seeded mutation fuzzing of the engine's parsers of untrusted bytes (issue 19): the protocol decoder, the
/// Standard MIDI File reader and the model manifest parser. Each may refuse an input only with its own
/// exception type (one line); anything else, a crash, is a bug. A bounded count runs in <c>make test</c>
/// (a few seconds each); <c>make fuzz FUZZ_MINUTES=N</c> runs them for longer (see <see cref="FuzzBudget"/>).
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class MutationFuzzTests
{
    [Fact]
    public void ProtocolDecoderRefusesOnlyWithProtocolErrors()
    {
        var corpus = ProtocolVectorTests.VectorNames().Select(n => ProtocolVectorTests.Load(n).Bytes).ToList();
        var mutator = new Mutator(FuzzBudget.Seed, corpus);
        FuzzBudget.Run("protocol-decoder", 200000, i =>
        {
            var input = mutator.Next();
            try
            {
                ProtocolMessage message;
                try { message = ProtocolCodec.DecodeFrame(input); }
                catch (ProtocolException) { message = null!; }
                if (message is not null)
                {
                    // What decodes re-encodes to bytes that decode to the same message.
                    var encoded = ProtocolCodec.Encode(message);
                    Assert.Equal(Convert.ToHexString(encoded), Convert.ToHexString(ProtocolCodec.Encode(ProtocolCodec.DecodeFrame(encoded))));
                }
                // The stream reader takes the same bytes in two pieces without any other exception.
                var pipe = new ReadOnlySequence<byte>(input);
                try { while (ProtocolCodec.TryReadFrame(ref pipe, out _)) { } }
                catch (ProtocolException) { }
            }
            catch (Exception e) when (e is not ProtocolException) { Assert.Fail(FuzzBudget.Crash("protocol-decoder", i, input, e)); }
        });
    }

    [Fact]
    public void MidiReaderRefusesOnlyWithMidiFormatErrors()
    {
        var corpus = new List<byte[]> { File.ReadAllBytes(RepositoryPaths.DemoMidi) };
        corpus.AddRange(Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "tests", "fixtures"), "*.mid", SearchOption.AllDirectories).Take(20).Select(File.ReadAllBytes));
        corpus.Add(StandardMidiFileWriter.Format0(
            [new TimedMidiMessage(0, 0, new MidiMessage(0x90, 60, 80)), new TimedMidiMessage(0.5, 0, new MidiMessage(0xB0, 64, 127)), new TimedMidiMessage(1, 0, new MidiMessage(0x80, 60, 0))], 96, 500000));
        var mutator = new Mutator(FuzzBudget.Seed, corpus);
        FuzzBudget.Run("smf-reader", 100000, i =>
        {
            var input = mutator.Next();
            try
            {
                var midi = MidiFile.Parse(input, "fuzz.mid");
                Assert.True(double.IsFinite(midi.DurationSeconds) && midi.DurationSeconds >= 0, $"duration {midi.DurationSeconds}");
                for (int k = 1; k < midi.Messages.Count; k++) Assert.True(midi.Messages[k].Seconds >= midi.Messages[k - 1].Seconds, "messages out of order");
            }
            catch (MidiFormatException e) { Assert.DoesNotContain('\n', e.Message); }
            catch (Exception e) { Assert.Fail(FuzzBudget.Crash("smf-reader", i, input, e)); }
        });
    }

    [Fact]
    public void ManifestParserRefusesOnlyWithOneLinePackageErrors()
    {
        var corpus = new[] { "fixture", "piano" }.Select(m => File.ReadAllBytes(Path.Combine(RepositoryPaths.Root, "models", m, ModelPackage.ManifestFileName))).ToList();
        var mutator = new Mutator(FuzzBudget.Seed, corpus);
        FuzzBudget.Run("manifest-parser", 50000, i =>
        {
            var input = mutator.Next();
            try { ModelManifestParser.Parse(input, "model.json"); }
            catch (ModelPackageException e) { Assert.DoesNotContain('\n', e.Message); }
            catch (Exception e) { Assert.Fail(FuzzBudget.Crash("manifest-parser", i, input, e)); }
        });
    }
}
