namespace Sostenuto.Engine.Model;

/// <summary>Finds the embedded default model package when the user names none.</summary>
public static class ModelLocator
{
    public const string EnvironmentVariable = "SOSTENUTO_MODEL";

    /// <summary>
    /// <c>$SOSTENUTO_MODEL</c>, else <c>models/default</c> next to the application, else in the
    /// repository the application was built in (found by walking up from the application's folder).
    /// </summary>
    public static string DefaultModelDirectory()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment)) return fromEnvironment;
        var tried = new List<string>();
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "models", "default");
            tried.Add(candidate);
            if (File.Exists(Path.Combine(candidate, ModelPackage.ManifestFileName))) return candidate;
        }
        throw new ModelPackageException("models/default", "", $"no default model found (set {EnvironmentVariable} or pass --model; looked in {string.Join(", ", tried)})");
    }
}
