using System.Buffers.Binary;
using System.Text;

namespace EvolQ.Models.Checkpoints;

/// <summary>
/// Lists the unicode strings of a pickle in stream order by walking its opcodes (nothing is executed or built).
/// PyBridge returns a state dict as a Hashtable, which forgets key order; a state dict pickles its keys in order,
/// so the first appearance of each key string recovers it.
/// </summary>
internal static class PickleStrings
{
    /// <summary>The strings up to STOP, or up to the first opcode this walker does not know (then the list is partial).</summary>
    public static List<string> InOrder(ReadOnlySpan<byte> pickle) => InOrder(pickle, out _);

    /// <summary>
    /// As <see cref="InOrder(ReadOnlySpan{byte})"/>; <paramref name="lengthPastEnd"/> tells whether the walk stopped at a
    /// string or bytes value whose declared length runs past the end of the pickle. The unpickler allocates such a
    /// length before it reads, so a few bytes declaring 2 GB would take 2 GB.
    /// </summary>
    public static List<string> InOrder(ReadOnlySpan<byte> pickle, out bool lengthPastEnd)
    {
        lengthPastEnd = false;
        var strings = new List<string>();
        var i = 0;
        while (i < pickle.Length)
        {
            var op = pickle[i++];
            long skip;
            switch (op)
            {
                case (byte)'.': // STOP
                    return strings;
                case (byte)'X': // BINUNICODE
                    if (!TryLength(pickle, ref i, 4, out var n4) || !TryString(pickle, ref i, n4, strings))
                    {
                        lengthPastEnd = true;
                        return strings;
                    }

                    continue;
                case 0x8c: // SHORT_BINUNICODE
                    if (!TryLength(pickle, ref i, 1, out var n1) || !TryString(pickle, ref i, n1, strings))
                    {
                        lengthPastEnd = true;
                        return strings;
                    }

                    continue;
                case 0x8d: // BINUNICODE8
                    if (!TryLength(pickle, ref i, 8, out var n8) || !TryString(pickle, ref i, n8, strings))
                    {
                        lengthPastEnd = true;
                        return strings;
                    }

                    continue;
                case 0x80: // PROTO
                case (byte)'K': // BININT1
                case (byte)'q': // BINPUT
                case (byte)'h': // BINGET
                    skip = 1;
                    break;
                case (byte)'M': // BININT2
                    skip = 2;
                    break;
                case (byte)'J': // BININT
                case (byte)'r': // LONG_BINPUT
                case (byte)'j': // LONG_BINGET
                    skip = 4;
                    break;
                case (byte)'G': // BINFLOAT
                case 0x95: // FRAME
                    skip = 8;
                    break;
                case 0x8a: // LONG1
                case (byte)'U': // SHORT_BINSTRING
                case (byte)'C': // SHORT_BINBYTES
                    if (!TryLength(pickle, ref i, 1, out skip))
                    {
                        return strings;
                    }

                    break;
                case 0x8b: // LONG4
                case (byte)'T': // BINSTRING
                case (byte)'B': // BINBYTES
                    if (!TryLength(pickle, ref i, 4, out skip))
                    {
                        return strings;
                    }

                    break;
                case 0x8e: // BINBYTES8
                case 0x96: // BYTEARRAY8
                    if (!TryLength(pickle, ref i, 8, out skip))
                    {
                        return strings;
                    }

                    break;
                case (byte)'c': // GLOBAL: module and name, each ended by a newline
                case (byte)'i': // INST
                    if (!SkipLine(pickle, ref i) || !SkipLine(pickle, ref i))
                    {
                        return strings;
                    }

                    continue;
                case (byte)'I': // INT
                case (byte)'L': // LONG
                case (byte)'F': // FLOAT
                case (byte)'S': // STRING
                case (byte)'V': // UNICODE (raw-unicode-escape; not decoded, state dict keys are never pickled this way by torch.save)
                case (byte)'p': // PUT
                case (byte)'g': // GET
                case (byte)'P': // PERSID
                    if (!SkipLine(pickle, ref i))
                    {
                        return strings;
                    }

                    continue;
                case (byte)'}': // EMPTY_DICT
                case (byte)']': // EMPTY_LIST
                case (byte)')': // EMPTY_TUPLE
                case (byte)'(': // MARK
                case (byte)'t': // TUPLE
                case 0x85: // TUPLE1
                case 0x86: // TUPLE2
                case 0x87: // TUPLE3
                case 0x88: // NEWTRUE
                case 0x89: // NEWFALSE
                case (byte)'N': // NONE
                case (byte)'R': // REDUCE
                case (byte)'Q': // BINPERSID
                case (byte)'u': // SETITEMS
                case (byte)'s': // SETITEM
                case (byte)'b': // BUILD
                case (byte)'a': // APPEND
                case (byte)'e': // APPENDS
                case 0x81: // NEWOBJ
                case 0x92: // NEWOBJ_EX
                case 0x93: // STACK_GLOBAL
                case 0x94: // MEMOIZE
                case (byte)'0': // POP
                case (byte)'1': // POP_MARK
                case (byte)'2': // DUP
                case (byte)'l': // LIST
                case (byte)'d': // DICT
                case (byte)'o': // OBJ
                case 0x8f: // EMPTY_SET
                case 0x90: // ADDITEMS
                case 0x91: // FROZENSET
                case 0x97: // NEXT_BUFFER
                case 0x98: // READONLY_BUFFER
                    continue;
                default:
                    return strings;
            }

            if (skip < 0 || skip > pickle.Length - i)
            {
                lengthPastEnd = true;
                return strings;
            }

            i += (int)skip;
        }

        return strings;
    }

    private static bool TryLength(ReadOnlySpan<byte> pickle, ref int i, int width, out long length)
    {
        length = 0;
        if (pickle.Length - i < width)
        {
            return false;
        }

        length = width switch
        {
            1 => pickle[i],
            4 => BinaryPrimitives.ReadUInt32LittleEndian(pickle[i..]),
            _ => (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(pickle[i..]), long.MaxValue),
        };
        i += width;
        return true;
    }

    private static bool TryString(ReadOnlySpan<byte> pickle, ref int i, long length, List<string> strings)
    {
        if (length > pickle.Length - i)
        {
            return false;
        }

        strings.Add(Encoding.UTF8.GetString(pickle.Slice(i, (int)length)));
        i += (int)length;
        return true;
    }

    private static bool SkipLine(ReadOnlySpan<byte> pickle, ref int i)
    {
        var end = pickle[i..].IndexOf((byte)'\n');
        if (end < 0)
        {
            return false;
        }

        i += end + 1;
        return true;
    }
}
