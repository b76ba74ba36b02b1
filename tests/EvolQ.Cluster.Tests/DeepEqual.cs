using System.Collections;
using System.Reflection;
using Akka.Actor;

namespace EvolQ.Cluster.Tests;

/// <summary>Structural equality of protocol values: arrays by element, floats by bit pattern, records by property.</summary>
internal static class DeepEqual
{
    public static void Assert(object? expected, object? actual, string path = "$")
    {
        if (expected is null || actual is null)
        {
            Xunit.Assert.True(expected is null && actual is null, $"{path}: {expected ?? "null"} != {actual ?? "null"}");
            return;
        }

        switch (expected)
        {
            case float f:
                Xunit.Assert.Equal(BitConverter.SingleToInt32Bits(f), BitConverter.SingleToInt32Bits((float)actual));
                return;
            case double d:
                Xunit.Assert.Equal(BitConverter.DoubleToInt64Bits(d), BitConverter.DoubleToInt64Bits((double)actual));
                return;
            case string or bool or int or long or Enum or byte:
                Xunit.Assert.True(expected.Equals(actual), $"{path}: {expected} != {actual}");
                return;
            case IActorRef reference:
                Xunit.Assert.Equal(reference.Path.ToStringWithoutAddress(), ((IActorRef)actual).Path.ToStringWithoutAddress());
                return;
            case IDictionary dictionary:
                var other = (IDictionary)actual;
                Xunit.Assert.Equal(dictionary.Count, other.Count);
                foreach (DictionaryEntry entry in dictionary)
                    Assert(entry.Value, other[entry.Key], $"{path}[{entry.Key}]");
                return;
            case IEnumerable sequence when expected is not string:
                var left = sequence.Cast<object?>().ToArray();
                var right = ((IEnumerable)actual).Cast<object?>().ToArray();
                Xunit.Assert.True(left.Length == right.Length, $"{path}: {left.Length} elements != {right.Length}");
                for (var i = 0; i < left.Length; i++)
                    Assert(left[i], right[i], $"{path}[{i}]");
                return;
        }

        Xunit.Assert.Equal(expected.GetType(), actual.GetType());
        foreach (var property in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length == 0)
                Assert(property.GetValue(expected), property.GetValue(actual), $"{path}.{property.Name}");
        }
    }
}
