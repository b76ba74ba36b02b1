using EvolQ.Cluster.Configuration;
using EvolQ.Cluster.Health;
using EvolQ.Testing;

namespace EvolQ.Deployment.Tests;

/// <summary>docker/: what can be checked without a Docker engine, and the publish command the images run.</summary>
public sealed class DockerfileTests
{
    public static TheoryData<string, string> Images => new()
    {
        { "Dockerfile.cpu", "cpu" },
        { "Dockerfile.cuda", "cuda" },
    };

    /// <summary>The node images and the slim ctl client's.</summary>
    public static TheoryData<string, string> AllImages => new()
    {
        { "Dockerfile.cpu", "cpu" },
        { "Dockerfile.cuda", "cuda" },
        { "Dockerfile.ctl", "ctl" },
    };

    [Theory]
    [MemberData(nameof(Images))]
    public void The_image_publishes_evolq_and_runs_it_as_a_non_root_node(string name, string backend)
    {
        var file = Dockerfile.Load(name);
        var froms = file.All("FROM").ToArray();
        Assert.Equal(2, froms.Length);
        // One distribution for both stages: the build's libstdc++ check decides the TorchSharp patch for the runtime.
        Assert.Equal("mcr.microsoft.com/dotnet/sdk:${DOTNET_TAG} AS build", froms[0]);
        Assert.Equal("mcr.microsoft.com/dotnet/aspnet:${DOTNET_TAG} AS runtime", froms[1]);
        Assert.Single(file.All("ARG"), a => a.StartsWith("DOTNET_TAG=10.0", StringComparison.Ordinal));

        var cuda = backend == "cuda" ? " -p:TorchBackend=cuda" : "";
        var publish = Assert.Single(file.All("RUN"), r => r.StartsWith("dotnet publish", StringComparison.Ordinal));
        Assert.Equal($"dotnet publish src/EvolQ.Cli -r linux-x64 -c Release{cuda} --no-restore -o /app", publish);
        var restore = Assert.Single(file.All("RUN"), r => r.StartsWith("dotnet restore", StringComparison.Ordinal));
        Assert.Equal($"dotnet restore src/EvolQ.Cli -r linux-x64{cuda}", restore);
        // The runtime stage brings the jemalloc evolq preloads for libtorch (NativeEnvironment), and the ASP.NET shared
        // framework (the aspnet base) that the node's Kestrel endpoint runs on.
        Assert.Single(file.All("RUN"), r => r.Contains("apt-get install", StringComparison.Ordinal) && r.Contains("libjemalloc2", StringComparison.Ordinal));
        Assert.Contains("--from=build /app /app", file.All("COPY"));

        // The entry point is the executable the publish makes (its AssemblyName), run by the images' own user.
        Assert.Contains("<AssemblyName>evolq</AssemblyName>", Repo.Read("src", "EvolQ.Cli", "EvolQ.Cli.csproj"), StringComparison.Ordinal);
        Assert.Equal("[\"/app/evolq\"]", file.All("ENTRYPOINT").Single());
        Assert.Equal("$APP_UID", file.All("USER").Single());
        var command = file.All("CMD").Single();
        Assert.StartsWith("[\"node\", \"--profile\", \"kubernetes\"", command, StringComparison.Ordinal);
        Assert.Contains(backend == "cuda" ? "\"cuda:0\"" : "\"cpu\"", command, StringComparison.Ordinal);
        Assert.Contains("kubernetes", NodeConfig.Profiles);
    }

    [Theory]
    [MemberData(nameof(Images))]
    public void Ports_and_environment_agree_with_hocon(string name, string backend)
    {
        var file = Dockerfile.Load(name);
        var env = file.Environment;
        var config = NodeConfig.Load("kubernetes", n => env.GetValueOrDefault(n));
        Assert.Equal(NodeConfig.Load("kubernetes", _ => null).GetInt("akka.remote.dot-netty.tcp.port"), int.Parse(env["EVOLQ_PORT"]));
        Assert.Equal(HealthSettings.DefaultPort, int.Parse(env["EVOLQ_HTTP_PORT"]));
        Assert.Equal(HealthSettings.DefaultPort, HealthSettings.From(config).Port);
        // Whatever profile a container runs, the image's EVOLQ_HTTP_PORT turns the endpoint on.
        Assert.True(HealthSettings.From(NodeConfig.Load("multi-node", n => env.GetValueOrDefault(n))).Enabled);
        Assert.Equal("9110", env["EVOLQ_CTL_PORT"]);
        var exposed = file.All("EXPOSE").Single().Split(' ').Select(int.Parse).Order().ToArray();
        Assert.Equal(new[] { int.Parse(env["EVOLQ_PORT"]), int.Parse(env["EVOLQ_CTL_PORT"]), int.Parse(env["EVOLQ_HTTP_PORT"]), config.GetInt("akka.management.http.port") }.Order(), exposed);
        // Which GPUs a container sees is the device plugin's to say; an image default would override nothing it
        // sets and expose every GPU to a container that asked for none.
        Assert.DoesNotContain("NVIDIA_VISIBLE_DEVICES", string.Join('\n', file.Instructions.Select(i => i.Arguments)), StringComparison.Ordinal);
        Assert.Equal(backend == "cuda", env.ContainsKey("NVIDIA_DRIVER_CAPABILITIES"));
    }

    [Theory]
    [MemberData(nameof(AllImages))]
    public void Packages_are_restored_in_a_layer_that_only_project_files_change(string name, string backend)
    {
        var file = Dockerfile.Load(name);
        var build = file.Instructions.TakeWhile(i => !(i.Instruction == "FROM" && i.Arguments.EndsWith("AS runtime", StringComparison.Ordinal))).ToList();
        var restoreAt = build.FindIndex(i => i.Instruction == "RUN" && i.Arguments.StartsWith("dotnet restore", StringComparison.Ordinal));
        var publishAt = build.FindIndex(i => i.Instruction == "RUN" && i.Arguments.StartsWith("dotnet publish", StringComparison.Ordinal));
        var everythingAt = build.FindIndex(i => i.Instruction == "COPY" && i.Arguments == ". .");
        Assert.True(restoreAt > 0 && restoreAt < everythingAt && everythingAt < publishAt, $"{name}: restore, then COPY . ., then publish");

        // Before the restore: the build files and exactly the project files the published project needs.
        var copied = build.Take(restoreAt).Where(i => i.Instruction == "COPY")
            .SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipLast(1)).ToHashSet(StringComparer.Ordinal);
        var projects = ProjectClosure("src/EvolQ.Cli/EvolQ.Cli.csproj");
        Assert.Equal(projects.Order(StringComparer.Ordinal), copied.Where(c => c.EndsWith(".csproj", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Superset(new HashSet<string>(StringComparer.Ordinal) { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "build/" }, copied);
        // Each project file lands in its own folder, where its relative references find the others.
        foreach (var project in projects)
            Assert.Contains(build.Take(restoreAt), i => i.Instruction == "COPY" && i.Arguments == $"{project} {Path.GetDirectoryName(project)}/");
        // Nothing else: a source file before the restore would make every edit restore again.
        Assert.All(copied, c => Assert.True(c.EndsWith(".csproj", StringComparison.Ordinal) || c.StartsWith("Directory.", StringComparison.Ordinal) || c == "build/", $"{name} copies {c} before restoring"));
        Assert.Contains(backend, file.Labels["org.opencontainers.image.title"], StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(AllImages))]
    public void The_image_carries_the_open_container_labels(string name, string backend)
    {
        var file = Dockerfile.Load(name);
        var labels = file.Labels;
        Assert.Equal("evolq-" + backend, labels["org.opencontainers.image.title"]);
        Assert.Equal("${VERSION}", labels["org.opencontainers.image.version"]);
        Assert.Equal("${REVISION}", labels["org.opencontainers.image.revision"]);
        Assert.Equal("mcr.microsoft.com/dotnet/aspnet:${DOTNET_TAG}", labels["org.opencontainers.image.base.name"]);
        Assert.False(string.IsNullOrWhiteSpace(labels["org.opencontainers.image.description"]));
        // The ARGs the labels use are declared in the stage that uses them (an ARG before FROM is not seen after it).
        var final = file.FinalStage.Where(i => i.Instruction == "ARG").Select(i => i.Arguments.Split('=')[0]).ToHashSet(StringComparer.Ordinal);
        Assert.Superset(new HashSet<string>(StringComparer.Ordinal) { "VERSION", "REVISION", "DOTNET_TAG" }, final);
        Assert.Matches(@"^\d+\.\d+\.\d+$", file.ArgDefault("VERSION"));
    }

    [Fact]
    public void The_ctl_image_runs_evolq_ctl_without_libtorch()
    {
        var file = Dockerfile.Load("Dockerfile.ctl");
        Assert.Equal("[\"/app/evolq\", \"ctl\"]", file.All("ENTRYPOINT").Single());
        Assert.Empty(file.All("CMD"));
        Assert.Equal("$APP_UID", file.All("USER").Single());
        Assert.Equal("mcr.microsoft.com/dotnet/aspnet:${DOTNET_TAG} AS runtime", file.All("FROM").Last());
        // What it removes is what the CPU image's publish brings of libtorch (CtlSlimImageTests runs the result).
        var removed = file.All("RUN").Single(r => r.StartsWith("rm ", StringComparison.Ordinal));
        foreach (var native in new[] { "/app/libtorch*", "/app/libc10.so", "/app/libLibTorchSharp.so", "/app/libSkiaSharp.so", "/app/models" })
            Assert.Contains(native, removed.Split(' '));
        Assert.Contains("-t evolq-ctl:" + file.ArgDefault("VERSION") + " ", file.Comments, StringComparison.Ordinal);
    }

    /// <summary>A project file and every project it references, transitively, relative to the repository root.</summary>
    private static SortedSet<string> ProjectClosure(string project)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out var next))
        {
            if (!found.Add(next))
                continue;
            var xml = System.Xml.Linq.XDocument.Load(Repo.Path(next));
            foreach (var reference in xml.Descendants("ProjectReference"))
            {
                var full = Path.GetFullPath(Path.Combine(Repo.Path(Path.GetDirectoryName(next)!), reference.Attribute("Include")!.Value));
                pending.Push(Path.GetRelativePath(Repo.Root, full).Replace('\\', '/'));
            }
        }
        return found;
    }

    [Fact]
    public void The_cuda_backend_is_selected_by_the_build_property()
    {
        var targets = Repo.Read("Directory.Build.targets");
        Assert.Contains("<PackageReference Include=\"TorchSharp-cuda-linux\" Condition=\"'$(TorchBackend)' == 'cuda'\" />", targets, StringComparison.Ordinal);
        Assert.Contains("<PackageReference Include=\"libtorch-cpu-linux-x64\" Condition=\"'$(TorchBackend)' == 'cpu'\" />", targets, StringComparison.Ordinal);
        Assert.Contains("<TorchBackend Condition=\"'$(TorchBackend)' == ''\">cpu</TorchBackend>", Repo.Read("Directory.Build.props"), StringComparison.Ordinal);
        // The build context keeps build outputs out and the sources the publish needs in.
        var ignored = Repo.Read(".dockerignore").Split('\n').Select(l => l.Trim()).ToArray();
        Assert.Contains("**/bin/", ignored);
        Assert.Contains("**/obj/", ignored);
        Assert.DoesNotContain(ignored, l => l is "src/" or "hocon/" or "build/" or "models/" or "Directory.Build.props" or "Directory.Build.targets");
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void The_images_publish_command_makes_the_entrypoint()
    {
        // The restore and publish commands of Dockerfile.cpu as it writes them (the CUDA one adds
        // -p:TorchBackend=cuda, whose package is not served here), with a scratch folder for /app.
        using var output = new TempDirectory("evolq-publish");
        foreach (var run in Dockerfile.Load("Dockerfile.cpu").All("RUN").Where(r => r.StartsWith("dotnet ", StringComparison.Ordinal)))
        {
            var words = run.Split(' ').Skip(1).Select(w => w == "/app" ? output.Path : w).Concat(["-nologo", "-v", "quiet"]).ToArray();
            var (code, stdout, stderr) = Repo.Run("dotnet", words, TimeSpan.FromMinutes(8));
            Assert.True(code == 0, $"{run} exited with {code}: {stdout}{stderr}");
        }
        var entrypoint = output.File("evolq");
        Assert.True(File.Exists(entrypoint), "the publish made no evolq");
        Assert.True(OperatingSystem.IsLinux(), "the images are linux-x64");
        if (OperatingSystem.IsLinux())
            Assert.True((File.GetUnixFileMode(entrypoint) & UnixFileMode.UserExecute) != 0, "evolq is not executable");
        Assert.True(File.Exists(output.File("libLibTorchSharp.so")) || Directory.GetFiles(output.Path, "libLibTorchSharp.so", SearchOption.AllDirectories).Length > 0);
        // It runs (the image's ENTRYPOINT with --help instead of node).
        var help = Repo.Run(entrypoint, ["--help"], TimeSpan.FromMinutes(1), output.Path);
        Assert.True(help.Code == 0, $"evolq --help exited with {help.Code}: {help.Error}");
        Assert.Contains("evolq", help.Output, StringComparison.Ordinal);
    }
}
