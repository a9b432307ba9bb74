namespace Sostenuto.Cli;

/// <summary>A one-line progress bar on stderr, redrawn at most ten times a second.</summary>
sealed class ProgressBar(string label) : IDisposable
{
    const int Width = 30;
    long _lastDraw = -1;
    double _fraction;

    public void Report(double fraction)
    {
        _fraction = Math.Clamp(fraction, 0, 1);
        long now = Environment.TickCount64;
        if (_lastDraw >= 0 && now - _lastDraw < 100 && _fraction < 1) return;
        _lastDraw = now;
        int filled = (int)(_fraction * Width);
        Console.Error.Write($"\r{label} [{new string('#', filled)}{new string('.', Width - filled)}] {_fraction * 100,5:0.0}%");
    }

    public void Dispose()
    {
        if (_lastDraw >= 0) Console.Error.Write("\r" + new string(' ', label.Length + Width + 12) + "\r");
    }
}
