using Sostenuto.Engine.Audio;

namespace Sostenuto.Engine.Tests.Audio;

public class CrossFadeTests
{
    // Lengths around vector widths (4, 8, 16) exercise the vector body and the scalar tail.
    public static TheoryData<int> Lengths => new() { 1, 2, 3, 7, 8, 15, 16, 17, 33, 960, 1001 };

    private static float[] Noise(int n, int seed)
    {
        var random = new System.Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
        return x;
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void WeightsAreMidpointSamplesOfTheRamp(int n)
    {
        var earlier = new float[n];
        var later = new float[n];
        Array.Fill(earlier, 1f);
        var destination = new float[n];
        CrossFade.Linear(earlier, later, destination);
        for (int i = 0; i < n; i++)
            Assert.Equal(1.0 - (i + 0.5) / n, destination[i], 1e-6);
    }

    [Fact]
    public void EndpointsAreHalfAStepFromTheInputs()
    {
        const int n = 960;
        var earlier = Noise(n, 1);
        var later = Noise(n, 2);
        var destination = new float[n];
        CrossFade.Linear(earlier, later, destination);
        Assert.Equal(earlier[0] + (later[0] - earlier[0]) * 0.5 / n, destination[0], 1e-6);
        Assert.Equal(later[n - 1] + (earlier[n - 1] - later[n - 1]) * 0.5 / n, destination[n - 1], 1e-6);
        // Weight of `earlier` falls monotonically from ~1 to ~0.
        var ones = new float[n];
        Array.Fill(ones, 1f);
        CrossFade.Linear(ones, new float[n], destination);
        Assert.True(destination[0] > 0.999f && destination[n - 1] < 0.001f);
        for (int i = 1; i < n; i++) Assert.True(destination[i] < destination[i - 1]);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void IsSymmetricUnderTimeReversal(int n)
    {
        // Fading A→B, reversed in time, equals fading reversed(B)→reversed(A).
        var a = Noise(n, 3);
        var b = Noise(n, 4);
        var forward = new float[n];
        CrossFade.Linear(a, b, forward);
        var backward = new float[n];
        CrossFade.Linear(b.Reverse().ToArray(), a.Reverse().ToArray(), backward);
        Array.Reverse(backward);
        for (int i = 0; i < n; i++) Assert.Equal(forward[i], backward[i], 1e-6);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void EqualInputsPassThroughBitExactly(int n)
    {
        var constant = new float[n];
        Array.Fill(constant, 0.3f);
        var destination = new float[n];
        CrossFade.Linear(constant, constant, destination);
        Assert.All(destination, v => Assert.Equal(0.3f, v));

        var shared = Noise(n, 5);
        CrossFade.Linear(shared, (float[])shared.Clone(), destination);
        Assert.Equal(shared, destination);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void DestinationMayAliasEitherInput(int n)
    {
        var a = Noise(n, 6);
        var b = Noise(n, 7);
        var expected = new float[n];
        CrossFade.Linear(a, b, expected);

        var intoEarlier = (float[])a.Clone();
        CrossFade.Linear(intoEarlier, b, intoEarlier);
        Assert.Equal(expected, intoEarlier);

        var intoLater = (float[])b.Clone();
        CrossFade.Linear(a, intoLater, intoLater);
        Assert.Equal(expected, intoLater);
    }

    [Fact]
    public void ShiftedOverlapAndLengthMismatchAreRejected()
    {
        var buffer = new float[100];
        Assert.Throws<ArgumentException>(() => CrossFade.Linear(buffer.AsSpan(0, 50), new float[50], buffer.AsSpan(10, 50)));
        Assert.Throws<ArgumentException>(() => CrossFade.Linear(new float[10], new float[11], new float[10]));
    }

    [Fact]
    public void EmptySpansAreAccepted() => CrossFade.Linear(ReadOnlySpan<float>.Empty, ReadOnlySpan<float>.Empty, Span<float>.Empty);
}
