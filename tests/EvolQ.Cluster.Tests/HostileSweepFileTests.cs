using System.Text;
using CsCheck;
using EvolQ.Cluster.Protocol;
using EvolQ.Cluster.Serialization;
using EvolQ.Cluster.Sweeps;
using EvolQ.Testing;

namespace EvolQ.Cluster.Tests;

/// <summary>Sweep files written to hurt: every one ends in a SweepFileException naming the problem, never a crash.</summary>
public sealed class HostileSweepFileTests
{
    private const string Valid = """
        sweep {
          id = demo
          models = [ { name = vit_tiny_patch7_28, checkpoint = "m.safetensors" } ]
          bits = [W4A8]
          seeds = [0, 1]
          calibration { data = "fashion-mnist:train", size = 100, batch-size = 50 }
          search { passes = 2, cycles = 1, population = 4, tournament = 2, offspring = 1 }
        }
        """;

    private static IReadOnlyList<string> Errors(string text) =>
        Assert.Throws<SweepFileException>(() => SweepFile.Parse(text, "s.conf", checkPaths: false)).Errors;

    private static string Error(string text) => Assert.Single(Errors(text));

    [Fact]
    public void The_valid_sample_parses() =>
        Assert.Equal(2, SweepFile.Parse(Valid, "s.conf", checkPaths: false).Jobs.Length);

    // Nesting and substitutions.

    [Theory]
    [InlineData("{", "}")]
    [InlineData("[", "]")]
    [InlineData("{ a = [", "] }")]
    public void Nesting_a_hundred_thousand_deep_is_refused_before_Akka_parses_it(string open, string close)
    {
        var text = "sweep { x = " + string.Concat(Enumerable.Repeat(open, 100_000)) + string.Concat(Enumerable.Repeat(close, 100_000)) + " }";
        Assert.StartsWith("s.conf:1: objects and lists nest deeper than 64 levels", Error(text), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a = ${a}\nsweep { id = ${a} }")]
    [InlineData("a = ${b}\nb = ${a}\nsweep { id = ${a} }")]
    [InlineData("a = [1]\na = ${a} [2]\nsweep { seeds = ${a} }")]
    [InlineData("sweep { id = x, name = ${sweep} }")]
    public void A_substitution_that_refers_to_itself_is_refused(string text) =>
        Assert.Contains("refers to itself", Error(text), StringComparison.Ordinal);

    [Fact]
    public void Substitutions_that_expand_exponentially_are_refused_with_their_bound()
    {
        var text = new StringBuilder("a0 = [x, x]\n");
        for (var i = 1; i <= 40; i++)
            text.Append($"a{i} = [${{a{i - 1}}}, ${{a{i - 1}}}]\n");
        text.Append("sweep { seeds = ${a40} }");
        var error = Error(text.ToString());
        Assert.StartsWith("s.conf: the substitutions expand to more than 100000 values", error, StringComparison.Ordinal);
        Assert.Contains("EVOLQ_MAX_SUBSTITUTION_VALUES", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Optional_substitutions_and_includes_are_refused_by_line()
    {
        Assert.Equal(
            ["s.conf:2: optional substitutions (${?NAME}) are not supported; write \"${NAME:-default}\" inside a quoted path instead.",
             "s.conf:3: include directives are not allowed in a sweep file; put everything in one file."],
            Errors("sweep {\n id = ${?HOME}\n include \"other.conf\"\n}"));
        Assert.Contains("include directives", Error("include file(\"/etc/passwd\")\nsweep { }"), StringComparison.Ordinal);
    }

    // Structure.

    [Theory]
    [InlineData("sweep { id = x", "s.conf:1: the '{' opened here is never closed.")]
    [InlineData("sweep { id = x } }", "s.conf:1: '}' closes nothing.")]
    [InlineData("sweep { seeds = [0, 1 }", "s.conf:1: '}' does not close the '[' opened on line 1.")]
    [InlineData("sweep { name = \"open }", "s.conf:1: a quoted string is never closed.")]
    [InlineData("sweep { name = \"open\n }", "s.conf:1: a quoted string is not closed on its line.")]
    [InlineData("sweep = 5", "s.conf:1: sweep must be a block 'sweep { ... }', not '5'.")]
    [InlineData("sweep { models = [\n `{ name = x } ] }", "s.conf:2: the character '`' is not allowed outside quotes.")]
    [InlineData("sweep { models = [ { name = x }$] }", "s.conf:1: a '$' outside quotes must start a substitution ${path.to.setting}.")]
    [InlineData("sweep { id = ${CHECKPOINTS:-/x} }", "s.conf:1: a substitution outside quotes must be ${path.to.setting}; write environment variables with defaults inside a quoted path (\"${NAME:-default}/...\").")]
    public void Malformed_braces_and_wrong_types_are_one_line_each(string text, string expected) =>
        Assert.Equal(expected, Errors(text)[0]);

    [Theory]
    [InlineData("search { pases = 3 }", "unknown setting 'sweep.search.pases' (did you mean 'passes'?")]
    [InlineData("calibration { data = \"fashion-mnist:train\", szie = 10 }", "unknown setting 'sweep.calibration.szie' (did you mean 'size'?")]
    [InlineData("fitness { los = mse }", "unknown setting 'sweep.fitness.los' (did you mean 'loss'?")]
    [InlineData("modles = []", "unknown setting 'sweep.modles' (did you mean 'models'?")]
    [InlineData("search { colour = red }", "unknown setting 'sweep.search.colour' (known: passes, cycles")]
    public void Unknown_keys_are_errors_with_the_nearest_known_key(string line, string expected)
    {
        var text = Valid.Replace("  bits = [W4A8]", "  bits = [W4A8]\n  " + line, StringComparison.Ordinal);
        Assert.Contains(Errors(text), e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_key_in_a_model_entry_is_an_error() =>
        Assert.Contains(
            Errors(Valid.Replace("checkpoint = \"m.safetensors\"", "checkpiont = \"m.safetensors\"", StringComparison.Ordinal)),
            e => e.Contains("unknown setting 'checkpiont' in a model entry (did you mean 'checkpoint'?", StringComparison.Ordinal));

    [Theory]
    [InlineData("search { passes = 2, cycles = 1, population = 4, tournament = 2, offspring = 1 }", "search = 5")]
    [InlineData("calibration { data = \"fashion-mnist:train\", size = 100, batch-size = 50 }", "calibration = [1, 2]")]
    [InlineData("models = [ { name = vit_tiny_patch7_28, checkpoint = \"m.safetensors\" } ]", "models = 5")]
    [InlineData("models = [ { name = vit_tiny_patch7_28, checkpoint = \"m.safetensors\" } ]", "models = [1, 2]")]
    [InlineData("bits = [W4A8]", "bits = { w = 4 }")]
    [InlineData("seeds = [0, 1]", "seeds = \"zero\"")]
    [InlineData("seeds = [0, 1]", "seeds = [[0], {}]")]
    public void Sections_of_the_wrong_type_are_errors(string from, string to) =>
        Assert.NotEmpty(Errors(Valid.Replace(from, to, StringComparison.Ordinal)));

    // Counts against limits.

    [Theory]
    [InlineData("W99999999999A8", "the bit width 'W99999999999A8' is outside 2 to 8 bits.")]
    [InlineData("W4A99999999999999999999", "the bit width 'W4A99999999999999999999' is outside 2 to 8 bits.")]
    public void Bit_widths_too_large_for_an_integer_are_out_of_range(string bits, string expected) =>
        Assert.Contains(Errors(Valid.Replace("[W4A8]", $"[{bits}]", StringComparison.Ordinal)), e => e.EndsWith(expected, StringComparison.Ordinal));

    [Theory]
    [InlineData("population = 4", "population = 99999999", "sweep.search.population is 99999999, over the limit: the limit is 10000 (EVOLQ_MAX_POPULATION")]
    [InlineData("passes = 2", "passes = 5000", "sweep.search.passes is 5000, over the limit: the limit is 1000 (EVOLQ_MAX_PASSES")]
    [InlineData("size = 100", "size = 2000000", "sweep.calibration.size is 2000000, over the limit: the limit is 1000000 (EVOLQ_MAX_CALIBRATION_IMAGES")]
    [InlineData("passes = 2", "passes = 99999999999", "sweep.search.passes is '99999999999', not an integer.")]
    public void Counts_over_their_limits_name_the_limit(string from, string to, string expected) =>
        Assert.Contains(Errors(Valid.Replace(from, to, StringComparison.Ordinal)), e => e.Contains(expected, StringComparison.Ordinal));

    [Fact]
    public void A_sweep_of_more_jobs_than_the_limit_is_refused_before_they_are_made()
    {
        var seeds = string.Join(", ", Enumerable.Range(0, 20_001));
        var error = Error(Valid.Replace("seeds = [0, 1]", $"seeds = [{seeds}]", StringComparison.Ordinal));
        Assert.Contains("= 20001 jobs, over the limit: the limit is 10000 (EVOLQ_MAX_SWEEP_JOBS", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_text_over_the_size_limit_is_refused_unparsed() =>
        Assert.StartsWith("s.conf: the sweep file is 2097152 characters, over the size limit", Error(new string('#', 2 << 20)), StringComparison.Ordinal);

    // Files that are not files.

    [Fact]
    public void Sweep_paths_that_are_not_regular_files_are_one_sentence_each()
    {
        using var dir = new TempDirectory();
        var loop = dir.File("loop.conf");
        File.CreateSymbolicLink(loop, dir.File("loop2.conf"));
        File.CreateSymbolicLink(dir.File("loop2.conf"), loop);
        var fifo = dir.File("pipe.conf");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
            mkfifo.WaitForExit();
        File.WriteAllBytes(dir.File("binary.conf"), [0xff, 0xfe, 0x00, 0xc3]);

        string Load(string path)
        {
            var task = Task.Run(() => Assert.Throws<SweepFileException>(() => SweepFile.Load(path, checkPaths: false)).Message);
            Assert.True(task.Wait(TimeSpan.FromSeconds(10)), $"loading {path} hangs");
            return task.Result;
        }

        Assert.Equal($"{loop}: the sweep file is a symbolic link loop (or a chain of links too long to follow).", Load(loop));
        Assert.Equal($"{fifo}: the sweep file is a FIFO (named pipe), not a regular file.", Load(fifo));
        Assert.Equal($"{dir.Path}: the sweep file is a directory, not a file.", Load(dir.Path));
        Assert.Equal("/dev/zero: the sweep file is a character device, not a regular file.", Load("/dev/zero"));
        Assert.Equal($"{dir.File("binary.conf")}: the sweep file is not UTF-8 text.", Load(dir.File("binary.conf")));
    }

    // Fuzzing.

    private static readonly Gen<string> Key = Gen.OneOf("id", "name", "models", "bits", "seeds", "search", "passes", "pases", "calibration", "size", "include", "a", "a.b", "\"q\"");

    private static readonly Gen<string> Scalar = Gen.OneOf(
        Gen.OneOf("5", "-1", "99999999999999999999", "W4A8", "W99999999999A8", "on", "\"x\"", "${a}", "${?X}", "${sweep}", "\"${HOME}\"", "[]", "{}", "null", "1.5e308", "\"\"\"t\"\"\""),
        Gen.String[0, 12].Select(s => "\"" + s.Replace("\"", "", StringComparison.Ordinal).Replace("\\", "", StringComparison.Ordinal) + "\""));

    /// <summary>HOCON of random shape: nested objects and lists of random keys and values, substitutions included.</summary>
    private static Gen<string> Value(int depth) => depth == 0
        ? Scalar
        : Gen.OneOf(
            Scalar,
            Gen.Select(Key, Value(depth - 1)).Array[0, 4].Select(items => "{ " + string.Join(", ", items.Select(i => $"{i.Item1} = {i.Item2}")) + " }"),
            Value(depth - 1).Array[0, 4].Select(items => "[" + string.Join(", ", items) + "]"));

    private static readonly Gen<string> SweepTexts = Gen.OneOf(
        Gen.Select(Key, Value(4)).Array[0, 6].Select(items => string.Join("\n", items.Select(i => $"{i.Item1} = {i.Item2}")) + "\nsweep " + "{ id = x }"),
        Gen.Select(Key, Value(4)).Array[0, 6].Select(items => "sweep { " + string.Join("\n", items.Select(i => $"{i.Item1} = {i.Item2}")) + " }"),
        Gen.Int[1, 2000].Select(depth => "sweep { a = " + new string('[', depth) + " }"),
        Fuzz.Mutations(Encoding.UTF8.GetBytes(Valid), File.ReadAllBytes(Path.Combine(RepositoryRoot(), "hocon", "sweeps", "paper.conf")))
            .Select(bytes => Encoding.UTF8.GetString(bytes)));

    [Fact]
    public void Generated_sweep_files_end_in_a_spec_or_a_SweepFileException()
    {
        var outcome = Fuzz.Run(SweepTexts, text => SweepFile.Parse(text, "fuzz.conf", checkPaths: false, environment: _ => "/x"),
            e => e is SweepFileException, seed: 16_101, iterations: 300, describe: text => text.Length > 600 ? text[..600] : text);
        Assert.True(outcome.Refused > 150, $"only {outcome.Refused} of 300 generated files were refused");
    }

    [Fact]
    public void Generated_and_mutated_protocol_messages_end_in_a_message_or_a_SerializationException()
    {
        using var system = Akka.Actor.ActorSystem.Create("fuzz", ClusterTestConfig.Local);
        var serializer = (EvolQSerializer)system.Serialization.FindSerializerForType(typeof(IEvolQMessage));
        var samples = ProtocolSamples.All(system.DeadLetters).Select(m => (Manifest: serializer.Manifest(m), Bytes: serializer.ToBinary(m))).ToArray();
        var manifests = samples.Select(s => s.Manifest).Distinct().ToArray();
        var inputs = Gen.Select(
            Gen.OneOf(manifests),
            Gen.OneOf(
                Fuzz.Mutations(samples.Select(s => s.Bytes).ToArray()),
                Gen.Byte.Array[0, 64],
                // Deep MessagePack nesting: fixarray headers (0x91) around nothing.
                Gen.Int[1, 200_000].Select(depth => Enumerable.Repeat((byte)0x91, depth).ToArray())));
        var outcome = Fuzz.Run(inputs, input => serializer.FromBinary(input.Item2, input.Item1),
            e => e is System.Runtime.Serialization.SerializationException, seed: 16_102, iterations: 400,
            describe: input => input.Item1 + " " + Convert.ToHexString(input.Item2.AsSpan(0, Math.Min(200, input.Item2.Length))));
        Assert.True(outcome.Refused > 100, $"only {outcome.Refused} of 400 messages were refused");
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EvolQ.Cluster.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("The repository root is not above the test assembly.");
    }
}
