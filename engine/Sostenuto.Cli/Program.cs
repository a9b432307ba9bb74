using System.CommandLine;
using Sostenuto.Cli;

// The `sostenuto` command line. Every failure is one line on stderr and a non-zero exit code.
var root = new RootCommand("Sostenuto: a neural instrument. Renders MIDI with a streaming codec language model.");
root.Subcommands.Add(RenderCommand.Create());
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(OnnxRunCommand.Create());

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    Console.Error.WriteLine($"sostenuto: {parsed.Errors[0].Message} (see 'sostenuto --help')");
    return 2;
}
try
{
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (CliErrors.IsUserFacing(e))
{
    Console.Error.WriteLine($"sostenuto: {CliErrors.OneLine(e)}");
    return 1;
}
