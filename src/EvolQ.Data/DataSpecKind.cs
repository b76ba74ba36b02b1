namespace EvolQ.Data;

/// <summary>The kinds of image source a data spec can name.</summary>
public enum DataSpecKind
{
    /// <summary><c>fashion-mnist:train|test[:DIR]</c>: the IDX files of Fashion-MNIST.</summary>
    FashionMnist,

    /// <summary><c>imagefolder:DIR</c>: torchvision's ImageFolder layout (ImageNet: DIR/train, DIR/val).</summary>
    ImageFolder,

    /// <summary><c>npy:IMAGES.npy,LABELS.npy</c>: images and labels in two .npy files.</summary>
    Npy,

    /// <summary>
    /// <c>preprocessed:IMAGES.npy,LABELS.npy</c>: float arrays that are already the model's inputs (its size, scaled and
    /// normalised elsewhere, as a reference run fed them), used as they are.
    /// </summary>
    Preprocessed,
}
