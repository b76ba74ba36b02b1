using EvolQ.TensorIO;

namespace EvolQ.Testing;

/// <summary>The golden fixtures of tests/fixtures, copied beside every test assembly.</summary>
public static class Fixtures
{
    public static string PathOf(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "fixtures", .. parts]);

    public static SafeTensorsContent Read(params string[] parts) => SafeTensorsFile.Read(PathOf(parts));
}
