using EvolQ.Data;
using EvolQ.Models;
using EvolQ.Models.Checkpoints;
using EvolQ.Quantization;

namespace EvolQ.Cli;

/// <summary>Which exceptions a user caused (bad file, flag or spec) and deserve one sentence instead of a stack trace.</summary>
public static class UserErrors
{
    public static string? Describe(Exception exception) => exception switch
    {
        UserInputException or QuantizationConfigException or UnknownModelException or EvolQ.TensorIO.TensorFileException
            or CheckpointException or DataSourceException or EvolQ.Engine.Quantize.RunFolderException
            or EvolQ.Cluster.Sweeps.SweepFileException or Akka.Configuration.ConfigurationException
            or EvolQ.TensorIO.LimitSettingException or EvolQ.Export.OnnxExportException => exception.Message,
        FileNotFoundException notFound => $"The file {notFound.FileName ?? "given"} does not exist.",
        DirectoryNotFoundException => exception.Message,
        OperationCanceledException => "Cancelled.",
        _ => null,
    };
}
