namespace Sostenuto.Engine.Model;

/// <summary>
/// A model package that cannot be used. The message names the file and the field,
/// e.g. "models/x/model.json: codec.codebookSize: must be between 2 and 65536".
/// </summary>
public sealed class ModelPackageException : Exception
{
    public ModelPackageException(string file, string field, string problem, Exception? inner = null)
        : base(OneLine(field.Length == 0 ? $"{file}: {problem}" : $"{file}: {field}: {problem}"), inner)
    {
        File = file;
        Field = field;
    }

    public string File { get; }

    // Quoted parser and ONNX Runtime messages may hold newlines; a refusal is always one line.
    static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim())).Trim();
    public string Field { get; }
}
