namespace EvolQ.Search;

/// <summary>The mutation operator, its floating-point steps fixed so any implementation can reproduce it.</summary>
/// <remarks>
/// For element j of a parent vector s (float32), with u_j the j-th <see cref="KeyedRandom.NextDouble"/> of the
/// offspring's <see cref="RandomStream.Mutation"/> stream, everything in IEEE-754 double with round-to-nearest-even:
/// <c>n_j = r·(2·u_j − 1)</c> (2·u_j − 1 is exact, so this is one rounding, in [−r, r));
/// absolute: <c>v_j = (double)s_j + n_j</c>; relative: <c>v_j = (double)s_j · (1 + n_j)</c> (1 + n_j rounded first);
/// then <c>child_j = (float)|v_j|</c>, the single rounding to float32, nearest-even. No fused multiply-add.
/// Children are rounded to float32 as they are made, so the scales evaluated are exactly the scales kept and written
/// back (the original keeps float64 in numpy and rounds when it writes the parameter).
/// </remarks>
internal static class Mutation
{
    public static float[] Mutate(float[] parent, double range, bool relative, KeyedRandom noise)
    {
        var child = new float[parent.Length];
        for (var j = 0; j < parent.Length; j++)
        {
            var n = range * (2.0 * noise.NextDouble() - 1.0);
            var v = relative ? parent[j] * (1.0 + n) : parent[j] + n;
            child[j] = (float)Math.Abs(v);
        }
        return child;
    }
}
