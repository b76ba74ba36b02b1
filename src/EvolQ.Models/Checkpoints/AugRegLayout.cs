using System.Globalization;
using static TorchSharp.torch;

namespace EvolQ.Models.Checkpoints;

/// <summary>
/// Maps a Google AugReg (Flax) ViT .npz to timm names and PyTorch layouts (semantics §4.1), the way timm's
/// <c>_load_weights</c> does: kernels HWIO to OIHW, (in, out) to (out, in), q/k/v concatenated into qkv.
/// </summary>
internal static class AugRegLayout
{
    private const string Block = "Transformer/encoderblock_";

    public static bool Matches(IReadOnlyDictionary<string, Tensor> arrays) =>
        arrays.ContainsKey("Transformer/encoder_norm/scale") || arrays.Keys.Any(k => k.StartsWith(Block, StringComparison.Ordinal));

    /// <summary>
    /// Returns new float32 tensors in timm's state-dict order; arrays the mapping does not use keep their npz names,
    /// so a strict load reports them. The input tensors are not disposed.
    /// </summary>
    public static OrderedDictionary<string, Tensor> ToTimm(IReadOnlyDictionary<string, Tensor> w, string fileName)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        var result = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            Tensor Get(string key, int rank, string layout)
            {
                if (!w.TryGetValue(key, out var t))
                {
                    throw new CheckpointException($"Checkpoint {fileName} is an incomplete AugReg npz: it has no {key}.");
                }

                if (rank >= 0 && t.dim() != rank)
                {
                    throw new CheckpointException($"Checkpoint {fileName} has an unexpected AugReg layout: {key} has shape [{string.Join(", ", t.shape)}] but should be {layout}.");
                }

                used.Add(key);
                return t;
            }

            void Put(string name, Tensor value) => result.Add(name, value);

            Put("cls_token", Float(Get("cls", 3, "(1, 1, C)")));
            Put("pos_embed", Float(Get("Transformer/posembed_input/pos_embedding", 3, "(1, tokens, C)")));
            using (var kernel = Get("embedding/kernel", 4, "(kh, kw, in, out)").permute(3, 2, 0, 1))
            {
                Put("patch_embed.proj.weight", Float(kernel));
            }

            Put("patch_embed.proj.bias", Float(Get("embedding/bias", 1, "(C)")));

            for (var i = 0; w.ContainsKey($"{Block}{i}/LayerNorm_0/scale"); i++)
            {
                var src = $"{Block}{i}/";
                var mha = src + "MultiHeadDotProductAttention_1/";
                var dst = "blocks." + i.ToString(CultureInfo.InvariantCulture) + ".";
                Put(dst + "norm1.weight", Float(Get(src + "LayerNorm_0/scale", 1, "(C)")));
                Put(dst + "norm1.bias", Float(Get(src + "LayerNorm_0/bias", 1, "(C)")));

                // q, k, v kernels are (C, heads, head_dim): flatten the heads and transpose to (out, in).
                var qkvWeights = new List<Tensor>();
                var qkvBiases = new List<Tensor>();
                try
                {
                    foreach (var part in new[] { "query", "key", "value" })
                    {
                        var k = Get($"{mha}{part}/kernel", 3, "(C, heads, head_dim)");
                        qkvWeights.Add(k.reshape(k.shape[0], -1).t());
                        qkvBiases.Add(Get($"{mha}{part}/bias", 2, "(heads, head_dim)").reshape(-1));
                    }

                    using var qkvWeight = cat(qkvWeights, 0);
                    using var qkvBias = cat(qkvBiases, 0);
                    Put(dst + "attn.qkv.weight", Float(qkvWeight));
                    Put(dst + "attn.qkv.bias", Float(qkvBias));
                }
                finally
                {
                    qkvWeights.ForEach(t => t.Dispose());
                    qkvBiases.ForEach(t => t.Dispose());
                }

                // out kernel is (heads, head_dim, C): rows are the concatenated heads, so transpose to (C, heads*head_dim).
                var outKernel = Get(mha + "out/kernel", 3, "(heads, head_dim, C)");
                using (var flat = outKernel.reshape(-1, outKernel.shape[2]))
                using (var proj = flat.t())
                {
                    Put(dst + "attn.proj.weight", Float(proj));
                }

                Put(dst + "attn.proj.bias", Float(Get(mha + "out/bias", 1, "(C)")));
                Put(dst + "norm2.weight", Float(Get(src + "LayerNorm_2/scale", 1, "(C)")));
                Put(dst + "norm2.bias", Float(Get(src + "LayerNorm_2/bias", 1, "(C)")));
                PutDense(dst + "mlp.fc1", src + "MlpBlock_3/Dense_0/");
                PutDense(dst + "mlp.fc2", src + "MlpBlock_3/Dense_1/");
            }

            Put("norm.weight", Float(Get("Transformer/encoder_norm/scale", 1, "(C)")));
            Put("norm.bias", Float(Get("Transformer/encoder_norm/bias", 1, "(C)")));
            PutDense("head", "head/");

            foreach (var (key, value) in w)
            {
                if (!used.Contains(key))
                {
                    Put(key, Float(value));
                }
            }

            return result;

            void PutDense(string name, string prefix)
            {
                using (var transposed = Get(prefix + "kernel", 2, "(in, out)").t())
                {
                    Put(name + ".weight", Float(transposed));
                }

                Put(name + ".bias", Float(Get(prefix + "bias", 1, "(out)")));
            }
        }
        catch
        {
            foreach (var t in result.Values)
            {
                t.Dispose();
            }

            throw;
        }
    }

    /// <summary>A new contiguous float32 copy that owns its storage (never an alias of the npz tensor).</summary>
    private static Tensor Float(Tensor t)
    {
        using var converted = t.to_type(ScalarType.Float32);
        using var contiguous = converted.contiguous();
        return contiguous.clone();
    }
}
