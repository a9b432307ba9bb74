namespace Sostenuto.Engine.Audio;

/// <summary>
/// Kaiser-windowed sinc low-pass design shared by the resampler. Kept separate so the
/// filter maths (which runs once, in double precision, at construction) is not mixed
/// with the real-time streaming code.
/// </summary>
internal static class KaiserSincDesign
{
    /// <summary>
    /// Kaiser's empirical beta for a stopband attenuation of <paramref name="attenuationDb"/> dB
    /// (Kaiser 1974; Oppenheim &amp; Schafer eq. 7.62).
    /// </summary>
    public static double Beta(double attenuationDb) => attenuationDb > 50
        ? 0.1102 * (attenuationDb - 8.7)
        : attenuationDb >= 21
            ? 0.5842 * Math.Pow(attenuationDb - 21, 0.4) + 0.07886 * (attenuationDb - 21)
            : 0.0;

    /// <summary>
    /// Filter order (span in samples, = length − 1) Kaiser's formula asks for to reach
    /// <paramref name="attenuationDb"/> with a transition width of <paramref name="transitionCyclesPerSample"/>.
    /// </summary>
    public static double Order(double attenuationDb, double transitionCyclesPerSample) =>
        (attenuationDb - 7.95) / (2.285 * 2 * Math.PI * transitionCyclesPerSample);

    /// <summary>Zeroth-order modified Bessel function of the first kind, by its power series (converges fast for the betas we use).</summary>
    public static double BesselI0(double x)
    {
        double sum = 1, term = 1, halfX = x / 2;
        for (int k = 1; k < 500; k++)
        {
            term *= halfX / k;
            double t2 = term * term;
            sum += t2;
            if (t2 < sum * 1e-18) break;
        }
        return sum;
    }

    /// <summary>
    /// Continuous impulse response at <paramref name="tau"/> (in input samples) of a low-pass with cutoff
    /// <paramref name="cutoffCyclesPerSample"/>, windowed by a Kaiser window whose support is the open
    /// interval (−halfWidth, halfWidth). The window is forced to zero at |τ| ≥ halfWidth so that the
    /// phase-0 row (which lands exactly on τ = −halfWidth) stays symmetric.
    /// </summary>
    public static double Kernel(double tau, double cutoffCyclesPerSample, double halfWidth, double beta, double i0Beta)
    {
        double r = tau / halfWidth;
        if (Math.Abs(r) >= 1) return 0;
        double window = BesselI0(beta * Math.Sqrt(1 - r * r)) / i0Beta;
        double x = 2 * cutoffCyclesPerSample * tau;
        double sinc = x == 0 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);
        return 2 * cutoffCyclesPerSample * sinc * window;
    }
}
