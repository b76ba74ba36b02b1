# The ctl client alone: the image evolq-ctl, for inspecting and steering a cluster (as pbm's sidecar) without pulling
# libtorch. Build from the repository root:
#   docker build -f docker/Dockerfile.ctl -t evolq-ctl:0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
# and run it against a node's ctl endpoint, the token in the environment:
#   kubectl -n evolq run ctl -it --rm --image=REGISTRY/evolq-ctl:0.1.0 --env=EVOLQ_CTL_TOKEN=... -- evolq-ctl:9110
#
# It is the evolq executable with libtorch, SkiaSharp and the demo model removed: `evolq ctl` builds only its own
# command and never initialises TorchSharp (src/EvolQ.Cli/EvolqApp.cs), so the client runs without them
# (tests/EvolQ.Cli.Tests/Ctl/CtlSlimImageTests.cs runs it so against a node). Other evolq commands fail in it.
ARG DOTNET_TAG=10.0-noble

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_TAG} AS build
WORKDIR /src
# Restore in a layer of its own, from the build files and the project files alone (as the node images do).
COPY Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/ build/
COPY src/EvolQ.Cli/EvolQ.Cli.csproj src/EvolQ.Cli/
COPY src/EvolQ.Cluster/EvolQ.Cluster.csproj src/EvolQ.Cluster/
COPY src/EvolQ.Web/EvolQ.Web.csproj src/EvolQ.Web/
COPY src/EvolQ.Export/EvolQ.Export.csproj src/EvolQ.Export/
COPY src/EvolQ.Engine/EvolQ.Engine.csproj src/EvolQ.Engine/
COPY src/EvolQ.Search/EvolQ.Search.csproj src/EvolQ.Search/
COPY src/EvolQ.Quantization/EvolQ.Quantization.csproj src/EvolQ.Quantization/
COPY src/EvolQ.Models/EvolQ.Models.csproj src/EvolQ.Models/
COPY src/EvolQ.Data/EvolQ.Data.csproj src/EvolQ.Data/
COPY src/EvolQ.TensorIO/EvolQ.TensorIO.csproj src/EvolQ.TensorIO/
RUN dotnet restore src/EvolQ.Cli -r linux-x64
COPY . .
RUN dotnet publish src/EvolQ.Cli -r linux-x64 -c Release --no-restore -o /app
# The native libraries the ctl client never loads (about 500 MB of the 540).
RUN rm -rf /app/models /app/libtorch* /app/libc10.so /app/libLibTorchSharp.so /app/libshm.so /app/libgomp-* /app/libbackend_with_compiler.so /app/libjitbackend_test.so /app/libnnapi_backend.so /app/libaoti_custom_ops.so /app/libSkiaSharp.so

FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_TAG} AS runtime
ARG DOTNET_TAG
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="evolq-ctl" \
      org.opencontainers.image.description="EvolQ: the evolq ctl client for a node's command endpoint, without libtorch" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="mcr.microsoft.com/dotnet/aspnet:${DOTNET_TAG}"
WORKDIR /app
COPY --from=build /app /app
# The non-root user the .NET images ship (UID 1654).
USER $APP_UID
# Arguments are ctl's: an endpoint host:port, then a command (none opens the REPL); the token from EVOLQ_CTL_TOKEN.
ENTRYPOINT ["/app/evolq", "ctl"]
