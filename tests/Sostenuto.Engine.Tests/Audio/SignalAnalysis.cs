namespace Sostenuto.Engine.Tests.Audio;

/// <summary>Small measurement helpers for the audio tests (double precision throughout).</summary>
internal static class SignalAnalysis
{
    /// <summary>
    /// Least-squares fit of DC + a sine/cosine pair at <paramref name="cyclesPerSample"/>, and the power
    /// of what is left relative to the fitted tone, in dB: THD+N including images and aliases.
    /// </summary>
    public static double ResidualAfterSineFitDb(ReadOnlySpan<float> x, double cyclesPerSample)
    {
        int n = x.Length;
        // Normal equations for basis {cos, sin, 1}.
        double[,] a = new double[3, 3];
        double[] b = new double[3];
        var basis = new double[3];
        for (int i = 0; i < n; i++)
        {
            double w = 2 * Math.PI * cyclesPerSample * i;
            basis[0] = Math.Cos(w); basis[1] = Math.Sin(w); basis[2] = 1;
            for (int r = 0; r < 3; r++)
            {
                b[r] += basis[r] * x[i];
                for (int c = 0; c < 3; c++) a[r, c] += basis[r] * basis[c];
            }
        }
        double[] coef = Solve3(a, b);
        double tone = 0, residual = 0;
        for (int i = 0; i < n; i++)
        {
            double w = 2 * Math.PI * cyclesPerSample * i;
            double fit = coef[0] * Math.Cos(w) + coef[1] * Math.Sin(w);
            double e = x[i] - fit - coef[2];
            tone += fit * fit;
            residual += e * e;
        }
        return 10 * Math.Log10(residual / tone);
    }

    public static double RmsDb(ReadOnlySpan<float> x)
    {
        double sum = 0;
        foreach (float v in x) sum += (double)v * v;
        return 10 * Math.Log10(sum / x.Length + 1e-300);
    }

    /// <summary>10·log10(Σ reference² / Σ (test − reference)²).</summary>
    public static double SnrDb(ReadOnlySpan<float> reference, ReadOnlySpan<float> test)
    {
        double signal = 0, error = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = (double)test[i] - reference[i];
            signal += (double)reference[i] * reference[i];
            error += d * d;
        }
        return 10 * Math.Log10(signal / error);
    }

    private static double[] Solve3(double[,] a, double[] b)
    {
        // Cramer's rule: the system is tiny and well conditioned (many samples, distinct basis).
        double det = Det(a);
        var x = new double[3];
        for (int col = 0; col < 3; col++)
        {
            var m = (double[,])a.Clone();
            for (int r = 0; r < 3; r++) m[r, col] = b[r];
            x[col] = Det(m) / det;
        }
        return x;
    }

    private static double Det(double[,] m) =>
        m[0, 0] * (m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1])
        - m[0, 1] * (m[1, 0] * m[2, 2] - m[1, 2] * m[2, 0])
        + m[0, 2] * (m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]);
}
