using System.CommandLine;
using System.Globalization;
using EvolQ.Models;
using Spectre.Console;

namespace EvolQ.Cli.Commands;

/// <summary>`evolq models`: the registry, with sizes, preprocessing and what Evol-Q searches.</summary>
public static class ModelsCommand
{
    public static Command Create(CommandConsole console)
    {
        var command = new Command("models", "List the models evolq can quantize: parameters, preprocessing, searchable blocks.");
        command.SetAction(_ =>
        {
            var table = new Table().AddColumns("model", "family", "parameters", "input", "preprocessing", "searched blocks", "scales/block");
            foreach (var model in ModelRegistry.Models)
            {
                table.AddRow(
                    Markup.Escape(model.Name),
                    model.Family,
                    (model.ParameterCount / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + "M",
                    $"{model.Preprocessing.Channels}x{model.Preprocessing.InputSize}x{model.Preprocessing.InputSize}",
                    Markup.Escape(model.Preprocessing.Describe()),
                    model.SearchableBlockCount.ToString(CultureInfo.InvariantCulture),
                    model.ScalesPerBlock.ToString(CultureInfo.InvariantCulture));
            }
            console.Ansi.Write(table);
            foreach (var model in ModelRegistry.Models)
                console.Output.WriteLine($"{model.Name}: {model.CheckpointSource}");
            return 0;
        });
        return command;
    }
}
