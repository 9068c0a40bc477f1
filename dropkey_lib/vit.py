"""A tiny Vision Transformer for 32x32 CIFAR-10 images, with DropKey in every attention layer.

    images (B, 3, 32, 32) in [0, 1]
      -> normalise with the CIFAR-10 mean/std (stored in the model, so a checkpoint needs no data statistics)
      -> stem: (B, N, C) tokens on a (32 / patch_size)**2 grid, plus a class token in front when pool == "cls"
         "conv": a light convolutional stem of 3x3 convolutions with BatchNorm + GELU (`ConvStem`), the default
         "patch": the plain ViT patch embedding, one patch_size x patch_size convolution with stride patch_size
      -> depth x pre-norm Block: x + Attention(LN(x)), then x + MLP(LN(x))
      -> LayerNorm, pool (class token or mean of the patch tokens), linear head -> logits (B, num_classes)

Each block's attention gets the model's regulariser (`config.drop`, a `DropConfig`) with its own drop ratio from the
depth schedule (`config.drop.layer_drops(depth)`). The settings are `config.ViTConfig`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import Attention, AttentionMaps, DropConfig
from .config import ViTConfig

# Per-channel mean and standard deviation of the CIFAR-10 training images (in [0, 1]); `Normalize` uses them.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    """images (B, 3, H, W) in [0, 1] -> (images - mean) / std per channel; the CIFAR-10 statistics by default.

    The statistics are non-persistent buffers: they move with the model but are not part of its state_dict.
    Wrap a model that expects normalised input (a timm model) as `nn.Sequential(Normalize(), model)`.
    """

    def __init__(self, mean: tuple[float, ...] = CIFAR10_MEAN, std: tuple[float, ...] = CIFAR10_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, images: Tensor) -> Tensor:
        return (images - self.mean) / self.std


class ConvStem(nn.Module):
    """Convolutional stem: images (B, 3, H, W) -> feature map (B, dim, H / patch_size, W / patch_size).

    3x3 convolutions with BatchNorm and GELU after every one but the last: a stride-2 convolution to `width`
    channels, a stride-1 one at that width, then log2(patch_size) - 1 more stride-2 ones that double the channels
    and end at `dim` (patch_size 4, width 32, dim 96: 3 -> 32 with stride 2, 32 -> 32, 32 -> 96 with stride 2).
    Overlapping 3x3 windows give the tokens local features from the start, so small ViTs converge much faster than
    with a patch embedding (Xiao et al. 2021, "Early convolutions help transformers see better"; Hassani et al.
    2021, Compact Convolutional Transformers). The stem is narrow on purpose: its stride-1 convolution runs on the
    16x16 grid, where each channel costs compute at four times the rate of the 8x8 token grid.
    """

    def __init__(self, dim: int, patch_size: int, width: int) -> None:
        super().__init__()
        stages = patch_size.bit_length() - 1  # stride-2 convolutions: patch_size = 2 ** stages
        channels = [width * 2**i for i in range(stages - 1)] + [dim]  # after each stride-2 convolution
        plan = [(3, width, 2), (width, width if stages > 1 else dim, 1)]  # (in channels, out channels, stride)
        plan += [(c_in, c_out, 2) for c_in, c_out in zip(channels[:-1], channels[1:])]
        layers: list[nn.Module] = []
        for i, (c_in, c_out, stride) in enumerate(plan):
            last = i == len(plan) - 1
            layers.append(nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=last))
            if not last:
                layers += [nn.BatchNorm2d(c_out), nn.GELU()]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class MLP(nn.Module):
    """Position-wise feed-forward network: (B, N, C) -> (B, N, C)."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: (B, N, C) -> (B, N, C)."""

    def __init__(self, config: ViTConfig, drop: DropConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.dim)
        self.attn = Attention(config.dim, config.num_heads, drop, config.layout)
        self.norm2 = nn.LayerNorm(config.dim)
        self.mlp = MLP(config.dim, int(config.dim * config.mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """A small ViT for CIFAR-10: images (B, 3, H, W) in [0, 1] -> logits (B, num_classes)."""

    def __init__(self, config: ViTConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ViTConfig()
        self.normalize = Normalize()
        if config.stem == "conv":
            self.patch_embed: nn.Module = ConvStem(config.dim, config.patch_size, config.stem_width)
        else:
            self.patch_embed = nn.Conv2d(3, config.dim, kernel_size=config.patch_size, stride=config.patch_size)
        self.layout = config.layout
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.dim)) if config.pool == "cls" else None
        self.pos_embed = nn.Parameter(torch.zeros(1, self.layout.num_tokens, config.dim))
        self.layer_drop_ratios = config.drop.layer_ratios(config.depth)
        self.blocks = nn.ModuleList(Block(config, drop) for drop in config.drop.layer_drops(config.depth))
        self.norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, config.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def embed(self, images: Tensor) -> Tensor:
        """images (B, 3, H, W) in [0, 1] -> tokens (B, N, C), class token first when pool == "cls"."""
        size = self.config.image_size
        if images.dim() != 4 or images.shape[1:] != (3, size, size):
            raise ValueError(f"images must have shape (B, 3, {size}, {size}), got {tuple(images.shape)}")
        x = self.patch_embed(self.normalize(images)).flatten(2).transpose(1, 2)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return x + self.pos_embed

    def head_logits(self, x: Tensor) -> Tensor:
        """Final tokens (B, N, C) -> logits (B, num_classes)."""
        x = self.norm(x)
        pooled = x[:, 0] if self.cls_token is not None else x.mean(dim=1)
        return self.head(pooled)

    def forward(self, images: Tensor) -> Tensor:
        x = self.embed(images)
        for block in self.blocks:
            x = block(x)
        return self.head_logits(x)

    @torch.no_grad()
    def attention_maps(self, images: Tensor) -> AttentionMaps:
        """The plain attention weights of every layer for images (B, 3, H, W): one (B, H, N, N) tensor per block,
        with the model's token layout (class token or not, patch grid)."""
        maps = []
        x = self.embed(images)
        for block in self.blocks:
            maps.append(block.attn.attention_weights(block.norm1(x)))
            x = block(x)
        return AttentionMaps(maps, self.layout, self.config.pool)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
