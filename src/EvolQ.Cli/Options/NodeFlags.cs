using System.CommandLine;
using System.Globalization;
using Akka.Configuration;
using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Workers;

namespace EvolQ.Cli.Options;

/// <summary>How a command starts a cluster node: profile, evaluation backend, devices (flags or EVOLQ_* variables).</summary>
public sealed class NodeFlags
{
    private readonly string defaultDevices;
    private readonly int defaultThreads;

    /// <param name="defaultDevices">The workers' devices where neither --devices nor EVOLQ_DEVICES says.</param>
    /// <param name="defaultThreads">Torch threads where --threads says none (0: one per core but one on a CPU worker).</param>
    public NodeFlags(string defaultDevices = "cpu", int defaultThreads = 0)
    {
        this.defaultDevices = defaultDevices;
        this.defaultThreads = defaultThreads;
        devices = new("--devices")
        {
            Description = $"Comma-separated devices, one worker each: cpu, cuda:0, cuda:1, ...; default EVOLQ_DEVICES or {defaultDevices}.",
        };
        threads = new("--threads")
        {
            Description = defaultThreads == 0
                ? "Torch CPU threads of this process (0: one per core but one, left to the actors, when a worker runs on the CPU)."
                : $"Torch CPU threads of this process (default {defaultThreads}; 0: one per core but one when a worker runs on the CPU).",
        };
    }

    private readonly Option<string> profile = new("--profile")
    {
        Description = $"The configuration profile in hocon/ ({string.Join(", ", NodeConfig.Profiles)}); default EVOLQ_PROFILE or local.",
    };

    private readonly Option<string> backend = new("--backend")
    {
        Description = "engine (the models on --devices) or synthetic (a fixed-cost stand-in, for benchmarks and tests).",
        DefaultValueFactory = _ => "engine",
    };

    private readonly Option<string> devices;

    private readonly Option<int> syntheticWorkers = new("--synthetic-workers")
    {
        Description = "With --backend synthetic: how many workers this node runs.",
        DefaultValueFactory = _ => 1,
    };

    private readonly Option<double> syntheticCost = new("--synthetic-cost-ms")
    {
        Description = "With --backend synthetic: the time one calibration batch takes, in milliseconds.",
        DefaultValueFactory = _ => 0,
    };

    private readonly Option<string?> modelsDir = new("--models-dir")
    {
        Description = "With --backend engine: where finished jobs write their quantized-model files (DIR/<sweep id>/models/<job id>.evolq.safetensors); default EVOLQ_MODELS_DIR, or none.",
    };

    private readonly Option<int?> threads;

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { profile, backend, devices, syntheticWorkers, syntheticCost, modelsDir, threads })
            command.Options.Add(option);
    }

    /// <summary>The node's configuration: the profile, then EVOLQ_* variables with <paramref name="defaults"/> under them.</summary>
    /// <param name="defaults">Variables used where the environment sets none (EVOLQ_DB for `evolq run`, for instance).</param>
    public Config Config(ParseResult parse, IReadOnlyDictionary<string, string>? defaults = null, Config? overrides = null)
    {
        string? Environment(string name) =>
            System.Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value
            : defaults is not null && defaults.TryGetValue(name, out var fallback) ? fallback
            : null;

        var chosen = parse.GetValue(profile) ?? Environment("EVOLQ_PROFILE") ?? "local";
        return NodeConfig.Load(chosen, Environment, overrides);
    }

    /// <summary>The node's evaluation backends, one per worker; none for a node without the worker role.</summary>
    /// <param name="defaultModelsRoot">Where model files go when neither --models-dir nor EVOLQ_MODELS_DIR says (`evolq run`: its --out).</param>
    public IReadOnlyList<IEvaluationBackend> Backends(ParseResult parse, Config config, string? defaultModelsRoot = null)
    {
        if (!config.GetStringList("akka.cluster.roles", []).Contains("worker"))
            return [];
        var threadCount = parse.GetValue(threads) ?? defaultThreads;
        if (threadCount < 0)
            throw new UserInputException("--threads must be 0 (the default) or positive.");
        if (threadCount > 0)
            TorchSharp.torch.set_num_threads(threadCount);

        switch (parse.GetValue(backend))
        {
            case "synthetic":
                var count = parse.GetValue(syntheticWorkers);
                var cost = parse.GetValue(syntheticCost);
                if (count < 1 || cost < 0 || !double.IsFinite(cost))
                    throw new UserInputException("--synthetic-workers must be positive and --synthetic-cost-ms zero or more.");
                return Enumerable.Range(0, count).Select(_ => (IEvaluationBackend)new SyntheticBackend(TimeSpan.FromMilliseconds(cost))).ToArray();
            case "engine":
                var list = parse.GetValue(devices) ?? (System.Environment.GetEnvironmentVariable("EVOLQ_DEVICES") is { Length: > 0 } fromVariable ? fromVariable : defaultDevices);
                var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (names.Length == 0)
                    throw new UserInputException("--devices names no device.");
                foreach (var name in names)
                    DeviceOption.Resolve(name);
                // Torch's spinning OpenMP threads on every core starve the actors that feed them: measured on 2 cores,
                // one torch thread runs the demo's evaluations 1.4x faster than two (docs/benchmarks.md).
                if (threadCount == 0 && names.Any(n => n.Equals("cpu", StringComparison.OrdinalIgnoreCase)) && System.Environment.ProcessorCount > 1)
                    TorchSharp.torch.set_num_threads(System.Environment.ProcessorCount - 1);
                var modelsRoot = parse.GetValue(modelsDir)
                    ?? (System.Environment.GetEnvironmentVariable("EVOLQ_MODELS_DIR") is { Length: > 0 } fromEnvironment ? fromEnvironment : defaultModelsRoot);
                return names.Select(n => (IEvaluationBackend)new EngineBackend(n.ToLowerInvariant(), modelsRoot: modelsRoot is null ? null : Path.GetFullPath(modelsRoot))).ToArray();
            case var other:
                throw new UserInputException($"--backend is '{other}': use engine or synthetic.");
        }
    }

    /// <summary>"cpu, cuda:0" or "3 synthetic" for the startup line.</summary>
    public static string Describe(IReadOnlyList<IEvaluationBackend> backends) =>
        backends.Count == 0 ? "none"
        : string.Join(", ", backends.GroupBy(b => b.Device).Select(g => g.Count() == 1 ? g.Key : string.Create(CultureInfo.InvariantCulture, $"{g.Count()} x {g.Key}")));
}
