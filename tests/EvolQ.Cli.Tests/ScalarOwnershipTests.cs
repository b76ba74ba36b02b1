using System.Reflection;
using System.Reflection.Emit;
using TorchSharp;

namespace EvolQ.Cli.Tests;

/// <summary>
/// No EvolQ assembly calls a TorchSharp method that makes a Scalar nobody owns (src/EvolQ.Quantization/Scalars.cs says
/// why: the finalizer thread can free it while libtorch reads it). BannedSymbols.txt stops the calls written in source
/// at build time; this reads the compiled IL of every EvolQ assembly against TorchSharp's own IL, so it also sees a
/// TorchSharp method the list does not name (a new TorchSharp version, a convenience overload nobody thought of).
/// </summary>
public sealed class ScalarOwnershipTests
{
    // TorchSharp's AdamW.step makes its bias corrections as temporary Scalars; only `evolq train` calls it (never a
    // worker), and replacing PyTorch's AdamW would change the committed demo checkpoint's training. Upstream:
    // dotnet/TorchSharp pull requests 1434 and 1496.
    private static readonly HashSet<string> Accepted = ["TorchSharp.Modules.AdamW.step"];

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    [Fact]
    public void No_EvolQ_assembly_calls_a_TorchSharp_method_that_leaves_a_Scalar_to_the_finalizer()
    {
        var makers = ScalarMakers();
        var unowned = TorchSharpMethodsWithUnownedScalars(makers);
        // The scan must recognise the known offenders, or an empty result would prove nothing.
        Assert.Contains(unowned, m => m.DeclaringType == typeof(torch.Tensor) && m.Name == "square");
        Assert.Contains(unowned, m => m.DeclaringType == typeof(torch.Tensor) && m.Name == "op_Addition"
            && m.GetParameters().All(p => p.ParameterType == typeof(torch.Tensor)));

        var evolq = Directory.GetFiles(AppContext.BaseDirectory, "EvolQ.*.dll")
            .Where(path => !Path.GetFileName(path).Contains(".Tests", StringComparison.Ordinal))
            .Select(Assembly.LoadFrom)
            .ToList();
        Assert.Contains(evolq, a => a.GetName().Name == "EvolQ.Quantization");

        var offences = new List<string>();
        foreach (var method in evolq.SelectMany(AllMethods))
        {
            var callees = Callees(method).ToList();
            var where = $"{method.DeclaringType!.FullName}.{method.Name}";
            offences.AddRange(callees
                .Where(c => unowned.Contains(c) && !makers.Contains(c) && !Accepted.Contains($"{c.DeclaringType!.FullName}.{c.Name}"))
                .Select(c => $"{where} calls {c.DeclaringType!.FullName}.{c.Name}"));
            // Our own Scalars are owned by a using (the method disposes what it makes) or by a static field (made in a
            // type initializer, alive for the whole process).
            if (callees.Any(makers.Contains) && !callees.Any(c => IsScalarDispose(c) || IsUsingDispose(c)) && method is not ConstructorInfo { IsStatic: true })
                offences.Add($"{where} makes a Scalar it neither disposes nor keeps in a static field");
        }
        Assert.True(offences.Count == 0, "Unowned TorchSharp Scalars:\n" + string.Join("\n", offences.Distinct()));
    }

    /// <summary>TorchSharp's ways to make a Scalar from a number: the implicit conversions and ToScalar.</summary>
    private static HashSet<MethodBase> ScalarMakers() => typeof(Scalar).Assembly.GetTypes()
        .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static))
        .Where(m => m.ReturnType == typeof(Scalar) && m.GetParameters().Length == 1 && (m.Name == "op_Implicit" || m.Name == "ToScalar"))
        .ToHashSet<MethodBase>();

    private static bool IsScalarDispose(MethodBase method) => method.DeclaringType == typeof(Scalar) && method.Name == nameof(Scalar.Dispose);

    // What a using statement calls (the compiler calls Dispose through the interface).
    private static bool IsUsingDispose(MethodBase method) => method.DeclaringType == typeof(IDisposable);

    /// <summary>
    /// TorchSharp methods that make a Scalar (an implicit conversion or ToScalar) and never dispose one, and every method
    /// that calls such a method, to a fixed point.
    /// </summary>
    private static HashSet<MethodBase> TorchSharpMethodsWithUnownedScalars(HashSet<MethodBase> makers)
    {
        var methods = AllMethods(typeof(Scalar).Assembly).ToList();
        var callees = methods.ToDictionary(m => m, m => Callees(m).ToList());
        var unowned = methods
            .Where(m => callees[m].Any(makers.Contains)
                && !callees[m].Any(IsScalarDispose))
            .ToHashSet();
        unowned.UnionWith(makers);
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var method in methods)
                if (!unowned.Contains(method) && callees[method].Any(unowned.Contains))
                    grew = unowned.Add(method);
        }
        return unowned;
    }

    private static IEnumerable<MethodBase> AllMethods(Assembly assembly)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance
            | BindingFlags.DeclaredOnly;
        Type?[] types;
        try
        {
            types = assembly.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            types = e.Types;
        }
        return types.OfType<Type>()
            .SelectMany(t => t.GetMethods(all).Cast<MethodBase>().Concat(t.GetConstructors(all)));
    }

    /// <summary>The methods <paramref name="method"/>'s IL calls (call, callvirt, newobj, ldftn), resolved in its module.</summary>
    private static IEnumerable<MethodBase> Callees(MethodBase method)
    {
        byte[]? il;
        try
        {
            il = method.GetMethodBody()?.GetILAsByteArray();
        }
        catch (Exception e) when (e is BadImageFormatException or InvalidOperationException)
        {
            yield break;
        }
        if (il is null)
            yield break;
        var typeArguments = method.DeclaringType is { IsGenericType: true } type ? type.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var i = 0; i < il.Length;)
        {
            var value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            if (!OpCodesByValue.TryGetValue(value, out var op))
                yield break; // not an opcode: stop rather than misread the rest
            i += op.Size;
            if (op.OperandType == OperandType.InlineMethod)
            {
                MethodBase? callee = null;
                try
                {
                    callee = method.Module.ResolveMethod(BitConverter.ToInt32(il, i), typeArguments, methodArguments);
                }
                catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException or FileNotFoundException)
                {
                }
                if (callee is not null)
                    yield return callee is MethodInfo { IsGenericMethod: true } generic ? generic.GetGenericMethodDefinition() : callee;
            }
            i += op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
        }
    }
}
