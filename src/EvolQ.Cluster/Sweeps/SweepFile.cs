using System.Globalization;
using System.Text.RegularExpressions;
using Akka.Configuration;
using EvolQ.Cluster.Protocol;
using EvolQ.Data;
using EvolQ.Engine.Fitness;
using EvolQ.Models;
using EvolQ.Quantization;
using EvolQ.Search;
using EvolQ.TensorIO;

namespace EvolQ.Cluster.Sweeps;

/// <summary>
/// Reads a sweep file (HOCON, examples in hocon/sweeps/) into a <see cref="SweepSpec"/>: models x bit widths x seeds,
/// one job each. Everything wrong is collected before anything runs, one line per problem with its place in the file.
/// </summary>
/// <remarks>
/// <code>
/// sweep {
///   id = demo                       # job ids are "id.model.w4a8.s0"; default: the file name
///   name = "a title"
///   max-concurrent-jobs = 2
///   retries = 1                     # a failed job runs again on its own this many times; default 0
///   models = [ { name = deit_tiny, checkpoint = "/checkpoints/deit_tiny.pth" } ]
///   bits = [W4A8, W3A8]             # W{w}A{a}: unsigned w-bit weights (as Evol-Q's run script), a-bit activations
///   seeds = [0, 1, 2]               # seeds the calibration draw and the search
///   calibration { data = "imagefolder:/imagenet/train", size = 1000, batch-size = 100, order = seeded }   # or file
///   validation { data = "imagefolder:/imagenet/val", limit = 0 }      # optional; limit 0 = every image
///   search { passes = 10, cycles = 3, population = 15, tournament = 10, offspring = 1, relative-mutation = off,
///            mutation-range = 0.001,          # r; default: the paper's for the weight width (1e-3, 1e-4 at 8 bits)
///            start = calibrated }             # or weight-mse (ours, beyond the paper)
///   fitness { loss = infonce, temperature = 3.0 }
/// }
/// </code>
/// Paths (checkpoints, data specs) may name environment variables as <c>${IMAGENET}</c> or
/// <c>${IMAGENET:-/data/imagenet}</c> inside their quotes; HOCON's own <c>${?VAR}</c> overrides are not used, because
/// Akka's parser loops on them. Relative paths are resolved against the working directory of whoever reads the file.
/// </remarks>
public static partial class SweepFile
{
    private static readonly string[] SweepKeys =
        ["id", "name", "max-concurrent-jobs", "retries", "models", "bits", "seeds", "calibration", "validation", "search", "fitness"];

    private static readonly (string Section, string[] Keys)[] SectionKeys =
    [
        ("calibration", ["data", "size", "batch-size", "order"]),
        ("validation", ["data", "limit"]),
        ("search", SearchKnobs.All.Select(k => k.Key).ToArray()),
        ("fitness", ["loss", "temperature"]),
    ];

    private static readonly string[] ModelKeys = ["name", "checkpoint"];

    /// <summary>The most automatic retries a sweep may ask for: a job that fails more often needs a look, not another try.</summary>
    public const int MaxRetries = 100;

    /// <summary>Reads and validates a sweep file.</summary>
    /// <exception cref="SweepFileException">The file is missing, unreadable or invalid (every problem listed).</exception>
    public static SweepSpec Load(string path, bool checkPaths = true, string? id = null, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var maxBytes = SweepLimits.MaxFileBytes;
        byte[] bytes;
        try
        {
            bytes = InputFile.ReadAllBytes(
                path,
                maxBytes,
                problem => new SweepFileException(path, [problem == "does not exist" ? $"{path}: there is no such sweep file." : $"{path}: the sweep file {problem}."]),
                length => new SweepFileException(path, [$"{path}: the sweep file is {length} bytes, over the size limit: {Limits.Hint(SweepLimits.MaxFileBytesVariable, maxBytes)}."]));
        }
        catch (IOException e)
        {
            throw new SweepFileException(path, [$"{path}: the sweep file cannot be read ({e.Message.Trim().TrimEnd('.')})."]);
        }
        string text;
        try
        {
            text = HoconGuard.StrictUtf8.GetString(bytes);
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new SweepFileException(path, [$"{path}: the sweep file is not UTF-8 text."]);
        }
        return Parse(text.TrimStart('\uFEFF'), path, checkPaths, id, environment);
    }

    /// <summary>Reads and validates the text of a sweep file.</summary>
    /// <param name="source">The file's name, for messages and as the default sweep id.</param>
    /// <param name="checkPaths">Whether checkpoints and data must exist here (off where the reader is not a worker).</param>
    /// <param name="id">Overrides the file's sweep id.</param>
    /// <param name="environment">Reads the variables named in paths; the process environment when null.</param>
    /// <exception cref="SweepFileException">The text is not a valid sweep (every problem listed).</exception>
    public static SweepSpec Parse(string text, string source, bool checkPaths = true, string? id = null, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(source);
        // Text from a ctl client has not passed Load's check.
        var maxBytes = SweepLimits.MaxFileBytes;
        if (text.Length > maxBytes)
            throw new SweepFileException(source, [$"{source}: the sweep file is {text.Length} characters, over the size limit: {Limits.Hint(SweepLimits.MaxFileBytesVariable, maxBytes)}."]);
        // Akka's parser recurses per nesting level and reading self-referring substitutions overflows the stack, so
        // the text is checked before it is parsed and the tree before it is read.
        var scanned = HoconGuard.Scan(text, source);
        if (scanned.Count > 0)
            throw new SweepFileException(source, scanned);
        var reader = new Reader(text, source, environment ?? Environment.GetEnvironmentVariable);
        Config root;
        try
        {
            root = ConfigurationFactory.ParseString(text);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or InsufficientExecutionStackException))
        {
            // Akka's parser throws whatever malformed text provokes (format errors, null references, bad indexes).
            throw new SweepFileException(source, [$"{source}: not valid HOCON: {FirstLine(e.Message)}"]);
        }
        if (HoconGuard.CheckSubstitutions(root, source) is { } substitutionProblem)
            throw new SweepFileException(source, [substitutionProblem]);
        if (!root.HasPath("sweep"))
            throw new SweepFileException(source, [$"{source}:1: the file has no 'sweep {{ ... }}' block."]);
        if (!root.GetValue("sweep").IsObject())
            throw new SweepFileException(source, [reader.At("sweep", $"sweep must be a block 'sweep {{ ... }}', not '{FirstLine(root.GetValue("sweep").ToString())}'.")]);
        var sweep = root.GetConfig("sweep");
        reader.Unknown(sweep, "sweep", SweepKeys);
        foreach (var (section, keys) in SectionKeys)
        {
            if (!sweep.HasPath(section))
                continue;
            if (!sweep.GetValue(section).IsObject())
                reader.Error(section, $"sweep.{section} must be a block '{section} {{ ... }}'.");
            else
                reader.Unknown(sweep.GetConfig(section), $"sweep.{section}", keys);
        }

        var sweepId = id ?? reader.String(sweep, "id") ?? System.IO.Path.GetFileNameWithoutExtension(source);
        if (string.IsNullOrWhiteSpace(sweepId) || !SafeId().IsMatch(sweepId))
            reader.Error("id", $"the sweep id '{sweepId}' must use only letters, digits, '-', '_' and '.'.");
        var name = reader.String(sweep, "name") ?? sweepId;
        var maxConcurrent = reader.Int(sweep, "max-concurrent-jobs", 1, min: 1);
        var retries = reader.Int(sweep, "retries", 0, min: 0);
        if (retries > MaxRetries)
            reader.Error("retries", $"sweep.retries is {retries}; it must be at most {MaxRetries}.");

        var models = ReadModels(reader, sweep, checkPaths);
        var bits = ReadBits(reader, sweep);
        var seeds = ReadSeeds(reader, sweep);
        var calibrationData = reader.DataSpec(sweep, "calibration.data", required: true, checkPaths);
        var calibrationSize = reader.Int(sweep, "calibration.size", 1000, min: 1, SweepLimits.MaxCalibrationImages, SweepLimits.MaxCalibrationImagesVariable);
        var calibrationBatch = reader.Int(sweep, "calibration.batch-size", 100, min: 1, SweepLimits.MaxCalibrationImages, SweepLimits.MaxCalibrationImagesVariable);
        if (calibrationBatch > calibrationSize)
            reader.Error("batch-size", $"calibration.batch-size ({calibrationBatch}) is larger than calibration.size ({calibrationSize}).");
        var calibrationOrder = ReadName(reader, sweep, "calibration.order", CalibrationOrder.Seeded, CalibrationOrderNames.TryParse, CalibrationOrderNames.All);
        var validationData = reader.DataSpec(sweep, "validation.data", required: false, checkPaths);
        var validationLimit = reader.Int(sweep, "validation.limit", 0, min: 0);
        var loss = reader.String(sweep, "fitness.loss") ?? "infonce";
        if (!Enum.TryParse<FitnessLoss>(loss, ignoreCase: true, out _))
            reader.Error("loss", $"fitness.loss '{loss}' is not one of {string.Join(", ", Enum.GetNames<FitnessLoss>().Select(n => n.ToLowerInvariant()))}.");
        var temperature = reader.Double(sweep, "fitness.temperature", FitnessLosses.DefaultTemperature);
        var search = ReadSearch(reader, sweep);

        var jobs = new List<SweepJob>();
        var maxJobs = SweepLimits.MaxJobs;
        var jobCount = (long)models.Count * bits.Count * seeds.Count;
        if (jobCount > maxJobs)
            reader.Error("models", $"the sweep expands to {models.Count} models x {bits.Count} bit widths x {seeds.Count} seeds = {jobCount} jobs, over the limit: {Limits.Hint(SweepLimits.MaxJobsVariable, maxJobs)}.");
        if (reader.Errors.Count == 0)
        {
            foreach (var (model, checkpoint) in models)
            foreach (var (label, weights, activations) in bits)
            foreach (var seed in seeds)
            {
                var quantization = new QuantizationConfig { WeightBits = weights, ActivationBits = activations };
                var settings = search with { WeightBits = weights.Bits, Seed = seed };
                // The sweep names the folder its jobs' model files go to (EngineBackend.ModelFilePath).
                var options = new Dictionary<string, string> { [Workers.EngineBackend.SweepOption] = sweepId };
                if (validationLimit > 0)
                    options["validation-limit"] = validationLimit.ToString(CultureInfo.InvariantCulture);
                var jobId = string.Create(CultureInfo.InvariantCulture, $"{sweepId}.{model}.{label.ToLowerInvariant()}.s{seed}");
                var spec = new JobSpec(jobId, model, checkpoint, calibrationData!, validationData,
                    new Dictionary<string, string>(quantization.ToMetadata()), calibrationSize, calibrationBatch, seed,
                    settings, loss.ToLowerInvariant(), temperature, options, calibrationOrder);
                if (spec.Problem() is { } problem)
                    reader.Error("search", problem);
                jobs.Add(new SweepJob(spec, model, label, seed));
            }
        }
        if (reader.Errors.Count > 0)
            throw new SweepFileException(source, reader.Errors);
        return new SweepSpec(sweepId, name, jobs.ToArray(), maxConcurrent, source, retries);
    }

    private static List<(string Name, string Checkpoint)> ReadModels(Reader reader, Config sweep, bool checkPaths)
    {
        var models = new List<(string, string)>();
        if (!sweep.HasPath("models"))
        {
            reader.Error("sweep", "sweep.models is missing: list at least one { name = ..., checkpoint = ... }.");
            return models;
        }
        IList<Config> entries;
        try
        {
            entries = sweep.GetValue("models").GetArray().Select(v => new Config(new Akka.Configuration.Hocon.HoconRoot(v))).ToList();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            reader.Error("models", "sweep.models must be a list of { name = ..., checkpoint = ... } objects.");
            return models;
        }
        if (entries.Count == 0)
            reader.Error("models", "sweep.models is empty: list at least one model.");
        foreach (var entry in entries)
        {
            if (!entry.Root.IsObject())
            {
                reader.Error("models", "sweep.models must be a list of { name = ..., checkpoint = ... } objects.");
                continue;
            }
            reader.Unknown(entry, "a model entry", ModelKeys);
            var name = reader.String(entry, "name");
            if (name is null)
            {
                reader.Error("models", "a model entry has no name.");
                continue;
            }
            ModelInfo info;
            try
            {
                info = ModelRegistry.Get(name);
            }
            catch (UnknownModelException e)
            {
                reader.Error(name, e.Message);
                continue;
            }
            var checkpoint = reader.Path(entry, "checkpoint");
            if (checkpoint is null)
            {
                reader.Error(name, $"model {info.Name} has no checkpoint path.");
                continue;
            }
            if (checkPaths)
            {
                checkpoint = System.IO.Path.GetFullPath(checkpoint);
                if (EvolQ.TensorIO.InputFile.WhyNotFile(checkpoint) is { } problem)
                    reader.Error(name, $"the checkpoint of {info.Name}, {checkpoint}, {problem}.");
            }
            if (models.Any(m => m.Item1 == info.Name))
                reader.Error(name, $"model {info.Name} is listed twice.");
            models.Add((info.Name, checkpoint));
        }
        return models;
    }

    private static List<(string Label, BitType Weights, BitType Activations)> ReadBits(Reader reader, Config sweep)
    {
        var bits = new List<(string, BitType, BitType)>();
        foreach (var label in reader.Strings(sweep, "bits", ["W4A8"]))
        {
            var match = BitsLabel().Match(label);
            if (!match.Success)
            {
                reader.Error(label, $"the bit width '{label}' is not of the form W4A8 (weight bits, activation bits).");
                continue;
            }
            // Digits that overflow an int are out of range like any other width.
            if (!int.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var w)
                || !int.TryParse(match.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var a)
                || w is < 2 or > 8 || a is < 2 or > 8)
            {
                reader.Error(label, $"the bit width '{label}' is outside 2 to 8 bits.");
                continue;
            }
            var normal = string.Create(CultureInfo.InvariantCulture, $"W{w}A{a}");
            if (bits.Any(b => b.Item1 == normal))
                reader.Error(label, $"the bit width {normal} is listed twice.");
            bits.Add((normal, BitType.UInt(w), BitType.UInt(a)));
        }
        return bits;
    }

    private static List<long> ReadSeeds(Reader reader, Config sweep)
    {
        var seeds = new List<long>();
        foreach (var text in reader.Strings(sweep, "seeds", ["0"]))
        {
            if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seed) || seed < 0)
                reader.Error(text, $"the seed '{text}' is not a non-negative integer.");
            else if (seeds.Contains(seed))
                reader.Error(text, $"the seed {seed} is listed twice.");
            else
                seeds.Add(seed);
        }
        return seeds;
    }

    private static SearchSettings ReadSearch(Reader reader, Config sweep)
    {
        var defaults = new SearchSettings { WeightBits = 4, Seed = 0 };
        var settings = defaults with
        {
            Passes = reader.Int(sweep, SearchPath(SearchKnobs.Passes), defaults.Passes, min: 1, SweepLimits.MaxPasses, SweepLimits.MaxPassesVariable),
            Cycles = reader.Int(sweep, SearchPath(SearchKnobs.Cycles), defaults.Cycles, min: 1, SweepLimits.MaxPasses, SweepLimits.MaxPassesVariable),
            PopulationSize = reader.Int(sweep, SearchPath(SearchKnobs.Population), defaults.PopulationSize, min: 1, SweepLimits.MaxPopulation, SweepLimits.MaxPopulationVariable),
            TournamentSize = reader.Int(sweep, SearchPath(SearchKnobs.Tournament), defaults.TournamentSize, min: 1, SweepLimits.MaxPopulation, SweepLimits.MaxPopulationVariable),
            Offspring = reader.Int(sweep, SearchPath(SearchKnobs.Offspring), defaults.Offspring, min: 1, SweepLimits.MaxPopulation, SweepLimits.MaxPopulationVariable),
            RelativeMutation = reader.Bool(sweep, SearchPath(SearchKnobs.RelativeMutation), defaults.RelativeMutation),
            MutationRange = sweep.HasPath(SearchPath(SearchKnobs.MutationRange)) ? reader.Double(sweep, SearchPath(SearchKnobs.MutationRange), 0) : null,
            Start = ReadName(reader, sweep, SearchPath(SearchKnobs.Start), SearchStart.Calibrated, SearchStartNames.TryParse, SearchStartNames.All),
        };
        try
        {
            settings.Validate();
        }
        catch (ArgumentException e)
        {
            reader.Error("search", $"the search settings are invalid: {FirstLine(e.Message)}");
        }
        return settings;
    }

    private static string SearchPath(SearchKnob knob) => "search." + knob.Key;

    private delegate bool NameParser<T>(string? text, out T value);

    /// <summary>A setting spelled as one of a few names (calibration.order, search.start); the default when absent.</summary>
    private static T ReadName<T>(Reader reader, Config sweep, string path, T fallback, NameParser<T> parse, IReadOnlyList<string> names)
    {
        var text = reader.String(sweep, path);
        if (text is null)
            return fallback;
        if (parse(text, out var value))
            return value;
        reader.Error(path[(path.LastIndexOf('.') + 1)..], $"{path} '{text}' is not one of {string.Join(", ", names)}.");
        return fallback;
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

    [GeneratedRegex("^[A-Za-z0-9_.-]+$")]
    private static partial Regex SafeId();

    [GeneratedRegex("^[Ww](\\d+)[Aa](\\d+)$")]
    private static partial Regex BitsLabel();

    /// <summary>Typed reads that record a problem (with the line it is on) instead of throwing.</summary>
    private sealed partial class Reader(string text, string source, Func<string, string?> environment)
    {
        private readonly string[] lines = text.Split('\n');

        public List<string> Errors { get; } = [];

        /// <summary>
        /// Records a problem at the first line that sets <paramref name="term"/> as a key, else the first that mentions
        /// it (the file when none does).
        /// </summary>
        public void Error(string term, string message) => Errors.Add(At(term, message));

        /// <summary>"SOURCE:LINE: message" at the line that sets or mentions <paramref name="term"/>.</summary>
        public string At(string term, string message)
        {
            var key = new Regex($"(^|[\\s{{,])\"?{Regex.Escape(term)}\"?\\s*[=:{{]");
            var line = Array.FindIndex(lines, l => key.IsMatch(l) && !l.TrimStart().StartsWith('#'));
            if (line < 0)
                line = Array.FindIndex(lines, l => l.Contains(term, StringComparison.Ordinal) && !l.TrimStart().StartsWith('#'));
            var place = line < 0 ? source : string.Create(CultureInfo.InvariantCulture, $"{source}:{line + 1}");
            return $"{place}: {message}";
        }

        /// <summary>Records every key of <paramref name="config"/> not in <paramref name="known"/>, with the nearest known key when one is close.</summary>
        public void Unknown(Config config, string where, string[] known)
        {
            var items = config.Root.GetObject()?.Items;
            if (items is null)
                return;
            foreach (var key in items.Keys.Where(k => !known.Contains(k)))
            {
                var setting = where.StartsWith("sweep", StringComparison.Ordinal) ? $"'{where}.{key}'" : $"'{key}' in {where}";
                var nearest = Nearest(key, known);
                var hint = nearest is null ? "" : $"did you mean '{nearest}'? ";
                Error(key, $"unknown setting {setting} ({hint}known: {string.Join(", ", known)}).");
            }
        }

        /// <summary>The known key within a third of its length in edits (at least one) of <paramref name="key"/>, if any.</summary>
        private static string? Nearest(string key, string[] known)
        {
            string? best = null;
            var bestDistance = int.MaxValue;
            foreach (var candidate in known)
            {
                var distance = EditDistance(key, candidate);
                if (distance < bestDistance)
                    (best, bestDistance) = (candidate, distance);
            }
            return best is not null && bestDistance <= Math.Max(1, best.Length / 3) ? best : null;
        }

        /// <summary>Edits (insert, delete, replace, swap two neighbours) from one key to the other: "szie" is one from "size".</summary>
        private static int EditDistance(string a, string b)
        {
            // Known keys are short; a hostile key longer than any of them is no typo of one.
            if (a.Length > 64)
                return int.MaxValue;
            var d = new int[a.Length + 1, b.Length + 1];
            for (var i = 0; i <= a.Length; i++)
                d[i, 0] = i;
            for (var j = 0; j <= b.Length; j++)
                d[0, j] = j;
            for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
            return d[a.Length, b.Length];
        }

        public string? String(Config config, string path)
        {
            try
            {
                return config.HasPath(path) ? config.GetString(path) : null;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Error(Last(path), $"{path} must be a string.");
                return null;
            }
        }

        /// <summary>A string with its ${NAME} and ${NAME:-default} references to the environment expanded.</summary>
        public string? Path(Config config, string path)
        {
            var text = String(config, path);
            return text is null ? null : Variable().Replace(text, m =>
            {
                var name = m.Groups[1].Value;
                if (environment(name) is { Length: > 0 } value)
                    return value;
                if (m.Groups[2].Success)
                    return m.Groups[3].Value;
                Error(Last(path), $"sweep.{path} needs the environment variable {name}, which is not set.");
                return m.Value;
            });
        }

        public IReadOnlyList<string> Strings(Config config, string path, string[] fallback)
        {
            if (!config.HasPath(path))
                return fallback;
            try
            {
                var list = config.GetStringList(path);
                if (list.Count == 0)
                    Error(Last(path), $"sweep.{path} is empty.");
                // Objects and lists inside the list come back as null.
                if (list.Any(item => item is null))
                {
                    Error(Last(path), $"sweep.{path} must be a list of plain values.");
                    return [];
                }
                return list.ToList();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Error(Last(path), $"sweep.{path} must be a list.");
                return [];
            }
        }

        public int Int(Config config, string path, int fallback, int min, long max = int.MaxValue, string? limitVariable = null)
        {
            var text = String(config, path);
            if (text is null)
                return fallback;
            if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            {
                Error(Last(path), $"sweep.{path} is '{text}', not an integer.");
                return fallback;
            }
            if (value < min)
                Error(Last(path), $"sweep.{path} is {value}; it must be at least {min}.");
            else if (value > max)
            {
                Error(Last(path), $"sweep.{path} is {value}, over the limit: {Limits.Hint(limitVariable!, max)}.");
                return fallback;
            }
            return value;
        }

        public double Double(Config config, string path, double fallback)
        {
            var text = String(config, path);
            if (text is null)
                return fallback;
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value) || value <= 0)
            {
                Error(Last(path), $"sweep.{path} is '{text}', not a positive number.");
                return fallback;
            }
            return value;
        }

        public bool Bool(Config config, string path, bool fallback)
        {
            var text = String(config, path);
            return text switch
            {
                null => fallback,
                "on" or "true" or "yes" => true,
                "off" or "false" or "no" => false,
                _ => Fail(),
            };

            bool Fail()
            {
                Error(Last(path), $"sweep.{path} is '{text}', not on or off.");
                return fallback;
            }
        }

        public string? DataSpec(Config config, string path, bool required, bool checkPaths)
        {
            var text = Path(config, path);
            if (text is null)
            {
                if (required)
                    Error(path.Split('.')[0], $"sweep.{path} is missing ({EvolQ.Data.DataSpec.Usage}).");
                return null;
            }
            try
            {
                var spec = EvolQ.Data.DataSpec.Parse(text);
                if (checkPaths && !Directory.Exists(spec.Location) && !File.Exists(spec.Location))
                    Error(Last(path), $"sweep.{path} names {spec.Location}, which does not exist.");
                return spec.Text;
            }
            catch (DataSourceException e)
            {
                Error(Last(path), e.Message);
                return null;
            }
        }

        private static string Last(string path) => path[(path.LastIndexOf('.') + 1)..];

        [GeneratedRegex("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\\}")]
        private static partial Regex Variable();
    }
}

/// <summary>A sweep file that cannot run; <see cref="Errors"/> holds one line per problem.</summary>
public sealed class SweepFileException(string source, IReadOnlyList<string> errors)
    : Exception(errors.Count == 1 ? errors[0] : $"{source} has {errors.Count} problems:\n  " + string.Join("\n  ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
