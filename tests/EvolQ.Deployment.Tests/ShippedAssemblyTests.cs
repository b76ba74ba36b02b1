using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace EvolQ.Deployment.Tests;

/// <summary>
/// The packages the nodes ship were built against dependency versions the registry does not always serve (NU1603:
/// Akka.Http.Shim wants Ceen.Httpd 0.9.9 and gets 0.9.10; Akka.Discovery.KubernetesApi wants KubernetesClient 17).
/// A member one of them calls that the shipped dependency lacks fails only at run time, in the cluster. This checks
/// every call from one shipped assembly into another against what is there, with parameter types.
/// </summary>
public sealed class ShippedAssemblyTests
{
    /// <summary>Broken against what is served, and never called: the reason is the entry's value.</summary>
    private static readonly Dictionary<string, string> KnownBroken = new(StringComparer.Ordinal)
    {
        ["Akka.Http.Shim"] = "Akka.Management's HTTP server (Ceen.Httpd 0.9.10 changed ListenAsync); EvolQ serves the bootstrap route itself",
        ["Akka.DistributedData.LightningDB"] = "durable distributed data, off (remember-entities off; LMDB needs glibc 2.38)",
    };

    [Fact]
    public void Every_call_between_shipped_assemblies_finds_its_member()
    {
        var folder = Path.GetDirectoryName(typeof(EvolQ.Cluster.EvolQNode).Assembly.Location)!;
        var shipped = Directory.GetFiles(folder, "*.dll")
            .Where(f => IsShipped(Path.GetFileNameWithoutExtension(f)))
            .ToDictionary(f => AssemblyName.GetAssemblyName(f).Name!, f => f, StringComparer.Ordinal);
        Assert.Contains("Akka.Management", shipped.Keys);
        Assert.Contains("KubernetesClient", shipped.Keys);
        var missing = new List<string>();
        var checkedMembers = 0;
        foreach (var (name, file) in shipped.Where(p => !KnownBroken.ContainsKey(p.Key)))
            checkedMembers += Check(name, file, shipped, missing);
        Assert.True(checkedMembers > 1000, $"only {checkedMembers} calls were checked");
        Assert.True(missing.Count == 0, "missing: " + string.Join(" | ", missing.Distinct()));
    }

    [Fact]
    public void The_check_finds_what_is_known_to_be_broken()
    {
        // Without this, a check that resolves nothing would pass too.
        var folder = Path.GetDirectoryName(typeof(EvolQ.Cluster.EvolQNode).Assembly.Location)!;
        var shipped = Directory.GetFiles(folder, "*.dll").ToDictionary(f => AssemblyName.GetAssemblyName(f).Name!, f => f, StringComparer.Ordinal);
        var missing = new List<string>();
        Check("Akka.Http.Shim", shipped["Akka.Http.Shim"], shipped, missing);
        Assert.Contains(missing, m => m.StartsWith("Ceen.Httpd.HttpServer.ListenAsync(System.Net.IPEndPoint", StringComparison.Ordinal));
    }

    private static bool IsShipped(string name) =>
        !name.StartsWith("System.", StringComparison.Ordinal) && !name.StartsWith("Microsoft.", StringComparison.Ordinal)
        && !name.StartsWith("xunit", StringComparison.Ordinal) && !name.StartsWith("testhost", StringComparison.Ordinal)
        && !name.StartsWith("EvolQ.Deployment.Tests", StringComparison.Ordinal) && name != "EvolQ.Testing";

    private static int Check(string name, string file, IReadOnlyDictionary<string, string> shipped, List<string> missing)
    {
        using var pe = new PEReader(File.OpenRead(file));
        if (!pe.HasMetadata)
            return 0;
        var metadata = pe.GetMetadataReader();
        var provider = new TypeNames(metadata);
        var count = 0;
        const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
        foreach (var handle in metadata.MemberReferences)
        {
            var member = metadata.GetMemberReference(handle);
            var (assembly, typeName) = provider.Owner(member.Parent);
            if (assembly.Length == 0 || assembly == name || !shipped.TryGetValue(assembly, out var target))
                continue;
            count++;
            var memberName = metadata.GetString(member.Name);
            var type = Assembly.LoadFrom(target).GetType(typeName);
            if (type is null)
            {
                missing.Add($"{name} -> {typeName} (type)");
                continue;
            }
            if (member.GetKind() == MemberReferenceKind.Method)
            {
                var parameters = member.DecodeMethodSignature(provider, null).ParameterTypes.ToArray();
                var found = type.GetMember(memberName, All).OfType<MethodBase>().Any(m =>
                    m.GetParameters().Select(p => TypeNames.Of(p.ParameterType)).SequenceEqual(parameters));
                if (!found)
                    missing.Add($"{typeName}.{memberName}({string.Join(", ", parameters)})");
            }
            else if (type.GetField(memberName, All) is null)
            {
                missing.Add($"{typeName}.{memberName} (field)");
            }
        }
        return count;
    }

    /// <summary>Type names as both metadata signatures and reflection spell them (namespace.name, generic arity, nesting with +).</summary>
    private sealed class TypeNames(MetadataReader metadata) : ISignatureTypeProvider<string, object?>
    {
        public static string Of(Type type)
        {
            if (type.IsGenericParameter)
                return (type.DeclaringMethod is null ? "!" : "!!") + type.GenericParameterPosition;
            if (type.IsByRef)
                return Of(type.GetElementType()!) + "&";
            // The rank matters: double[,] (ScottPlot's heat map) is not double[].
            if (type.IsArray)
                return Of(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
            // A generic type over its own parameters is its definition in reflection, and an instantiation in metadata.
            if (type.IsGenericType)
                return type.GetGenericTypeDefinition().FullName + "<" + string.Join(",", type.GetGenericArguments().Select(Of)) + ">";
            return type.FullName!;
        }

        public (string Assembly, string Type) Owner(EntityHandle parent) => parent.Kind switch
        {
            HandleKind.TypeReference => Reference((TypeReferenceHandle)parent),
            HandleKind.TypeSpecification => Owner(GenericOwner((TypeSpecificationHandle)parent)),
            _ => ("", ""),
        };

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => Reference(handle).Type;

        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            var definition = reader.GetTypeDefinition(handle);
            var name = reader.GetString(definition.Name);
            return definition.GetDeclaringType() is { IsNil: false } outer
                ? GetTypeFromDefinition(reader, outer, rawTypeKind) + "+" + name
                : Join(reader.GetString(definition.Namespace), name);
        }

        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode switch
        {
            PrimitiveTypeCode.Boolean => "System.Boolean",
            PrimitiveTypeCode.Byte => "System.Byte",
            PrimitiveTypeCode.SByte => "System.SByte",
            PrimitiveTypeCode.Char => "System.Char",
            PrimitiveTypeCode.Int16 => "System.Int16",
            PrimitiveTypeCode.UInt16 => "System.UInt16",
            PrimitiveTypeCode.Int32 => "System.Int32",
            PrimitiveTypeCode.UInt32 => "System.UInt32",
            PrimitiveTypeCode.Int64 => "System.Int64",
            PrimitiveTypeCode.UInt64 => "System.UInt64",
            PrimitiveTypeCode.Single => "System.Single",
            PrimitiveTypeCode.Double => "System.Double",
            PrimitiveTypeCode.String => "System.String",
            PrimitiveTypeCode.Object => "System.Object",
            PrimitiveTypeCode.IntPtr => "System.IntPtr",
            PrimitiveTypeCode.UIntPtr => "System.UIntPtr",
            PrimitiveTypeCode.Void => "System.Void",
            PrimitiveTypeCode.TypedReference => "System.TypedReference",
            _ => typeCode.ToString(),
        };

        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) =>
            genericType + "<" + string.Join(",", typeArguments) + ">";

        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[" + new string(',', shape.Rank - 1) + "]";

        public string GetSZArrayType(string elementType) => elementType + "[]";

        public string GetByReferenceType(string elementType) => elementType + "&";

        public string GetPointerType(string elementType) => elementType + "*";

        public string GetGenericTypeParameter(object? genericContext, int index) => "!" + index;

        public string GetGenericMethodParameter(object? genericContext, int index) => "!!" + index;

        public string GetFunctionPointerType(MethodSignature<string> signature) => "fnptr";

        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;

        public string GetPinnedType(string elementType) => elementType;

        public string GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);

        private EntityHandle GenericOwner(TypeSpecificationHandle handle)
        {
            // A member of a generic instantiation: its owner is the generic type's definition.
            var blob = metadata.GetBlobReader(metadata.GetTypeSpecification(handle).Signature);
            if (blob.ReadSignatureTypeCode() != SignatureTypeCode.GenericTypeInstance)
                return default;
            blob.ReadSignatureTypeCode();
            return blob.ReadTypeHandle();
        }

        private (string Assembly, string Type) Reference(TypeReferenceHandle handle)
        {
            var reference = metadata.GetTypeReference(handle);
            var name = metadata.GetString(reference.Name);
            var scope = reference.ResolutionScope;
            return scope.Kind switch
            {
                HandleKind.TypeReference => Reference((TypeReferenceHandle)scope) is var (assembly, outer) ? (assembly, outer + "+" + name) : default,
                HandleKind.AssemblyReference => (metadata.GetString(metadata.GetAssemblyReference((AssemblyReferenceHandle)scope).Name), Join(metadata.GetString(reference.Namespace), name)),
                _ => ("", name),
            };
        }

        private static string Join(string ns, string name) => ns.Length == 0 ? name : ns + "." + name;
    }
}
