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

    [Theory]
    [MemberData(nameof(Images))]
    public void The_image_publishes_evolq_and_runs_it_as_a_non_root_node(string name, string backend)
    {
        var file = Dockerfile.Load(name);
        var froms = file.All("FROM").ToArray();
        Assert.Equal(2, froms.Length);
        // One distribution for both stages: the build's libstdc++ check decides the TorchSharp patch for the runtime.
        Assert.Equal("mcr.microsoft.com/dotnet/sdk:${DOTNET_TAG} AS build", froms[0]);
        Assert.Equal("mcr.microsoft.com/dotnet/runtime:${DOTNET_TAG} AS runtime", froms[1]);
        Assert.Single(file.All("ARG"), a => a.StartsWith("DOTNET_TAG=10.0", StringComparison.Ordinal));

        var publish = Assert.Single(file.All("RUN"), r => r.StartsWith("dotnet publish", StringComparison.Ordinal));
        var expected = "dotnet publish src/EvolQ.Cli -r linux-x64 -c Release" + (backend == "cuda" ? " -p:TorchBackend=cuda" : "") + " -o /app";
        Assert.Equal(expected, publish);
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
        Assert.Equal(backend == "cuda", env.ContainsKey("NVIDIA_VISIBLE_DEVICES"));
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
    public void The_images_publish_command_makes_the_entrypoint()
    {
        // The command both Dockerfiles run (the CUDA one adds -p:TorchBackend=cuda, whose package is not served here).
        using var output = new TempDirectory("evolq-publish");
        var (code, stdout, stderr) = Repo.Run("dotnet",
            ["publish", "src/EvolQ.Cli", "-r", "linux-x64", "-c", "Release", "-o", output.Path, "-nologo", "-v", "quiet"],
            TimeSpan.FromMinutes(8));
        Assert.True(code == 0, $"dotnet publish exited with {code}: {stdout}{stderr}");
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
