using System.Text;
using EvolQ.TensorIO;

namespace EvolQ.Engine.Plots;

/// <summary>One plot rendered twice: a PNG to look at and an SVG whose text (title, labels, legend) can be read back.</summary>
public sealed record Chart(byte[] Png, string Svg)
{
    /// <summary>Writes <paramref name="name"/>.png and <paramref name="name"/>.svg into <paramref name="folder"/>; returns both paths.</summary>
    public IReadOnlyList<string> Write(string folder, string name)
    {
        var png = Path.Combine(folder, name + ".png");
        var svg = Path.Combine(folder, name + ".svg");
        AtomicFile.WriteAllBytes(png, Png);
        AtomicFile.WriteAllBytes(svg, Encoding.UTF8.GetBytes(Svg));
        return [png, svg];
    }
}
