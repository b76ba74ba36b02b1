using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EvolQ.Models.Tests.Checkpoints;

/// <summary>
/// Parameters only (no forward) of a timm VisionTransformer, named as timm names them; the fixtures' tiny ViT is
/// img 28, patch 7, 1 channel, embed 64, depth 2, heads 4, MLP 256, 10 classes.
/// </summary>
internal sealed class TestVit : nn.Module
{
    // Field names are the checkpoint names: RegisterComponents registers each field under its own name.
    private readonly PatchEmbed patch_embed;
    private readonly Parameter cls_token;
    private readonly Parameter pos_embed;
    private readonly ModuleList<Block> blocks;
    private readonly LayerNorm norm;
    private readonly Linear head;

    public TestVit(string name, int img = 28, int patch = 7, int channels = 1, int dim = 64, int depth = 2, int hidden = 256, int classes = 10)
        : base(name)
    {
        var tokens = (img / patch) * (img / patch) + 1;
        patch_embed = new PatchEmbed(channels, dim, patch);
        cls_token = new Parameter(randn(1, 1, dim));
        pos_embed = new Parameter(randn(1, tokens, dim));
        blocks = new ModuleList<Block>(Enumerable.Range(0, depth).Select(_ => new Block(dim, hidden)).ToArray());
        norm = nn.LayerNorm(dim, 1e-6);
        head = nn.Linear(dim, classes);
        RegisterComponents();
    }

    /// <summary>The fixtures' micro model: embed 8, depth 1, MLP 16.</summary>
    public static TestVit Micro(string name = "micro_vit", int img = 28) => new(name, img: img, dim: 8, depth: 1, hidden: 16);

    private sealed class PatchEmbed : nn.Module
    {
        private readonly Conv2d proj;

        public PatchEmbed(int channels, int dim, int patch) : base("patch_embed")
        {
            proj = nn.Conv2d(channels, dim, patch, stride: patch);
            RegisterComponents();
        }
    }

    private sealed class Attention : nn.Module
    {
        private readonly Linear qkv;
        private readonly Linear proj;

        public Attention(int dim) : base("attn")
        {
            qkv = nn.Linear(dim, 3 * dim);
            proj = nn.Linear(dim, dim);
            RegisterComponents();
        }
    }

    private sealed class Mlp : nn.Module
    {
        private readonly Linear fc1;
        private readonly Linear fc2;

        public Mlp(int dim, int hidden) : base("mlp")
        {
            fc1 = nn.Linear(dim, hidden);
            fc2 = nn.Linear(hidden, dim);
            RegisterComponents();
        }
    }

    internal sealed class Block : nn.Module
    {
        private readonly LayerNorm norm1;
        private readonly Attention attn;
        private readonly LayerNorm norm2;
        private readonly Mlp mlp;

        public Block(int dim, int hidden) : base("block")
        {
            norm1 = nn.LayerNorm(dim, 1e-6);
            attn = new Attention(dim);
            norm2 = nn.LayerNorm(dim, 1e-6);
            mlp = new Mlp(dim, hidden);
            RegisterComponents();
        }
    }
}
