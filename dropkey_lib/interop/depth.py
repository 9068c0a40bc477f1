"""The depth of each attention layer of a timm model, from the model's structure, for the drop-ratio schedule.

A layer's depth is that of the block it sits in: its module path up to its last index (`layers.2.blocks.3.attn` ->
`layers.2.blocks.3`: block 3 of stage 2), so the attentions of one block share a depth (TNT's pixel and patch
attention, MaxViT's window and grid attention) and a head outside the blocks (`attn_pool`) is a depth of its own.
Depths are ordered as the blocks are registered: stages in order, blocks in order within a stage, which is the
order timm's forward runs them (tests/test_interop.py checks it for every family it tests).

Parallel branches run side by side, so the index of a branch is not depth: in CrossViT's `MultiScaleBlock`, branch
b's block j (`blocks.i.blocks.b.j`) is at the depth of every branch's block j, and the fusion's cross-attentions
(`blocks.i.fusion.b`) share one depth after them. `PARALLEL_BRANCHES` names such containers.
"""

from __future__ import annotations

from torch import nn

from .families import class_name

# class of a module -> names of its children that hold one entry per parallel branch
PARALLEL_BRANCHES: dict[str, tuple[str, ...]] = {
    "timm.models.crossvit.MultiScaleBlock": ("blocks", "fusion", "projs", "revert_projs"),
}


def block_of(model: nn.Module, name: str) -> str:
    """The block that the module `name` of `model` sits in, branch indices as `*`: `blocks.0.fusion.*` for CrossViT's
    `blocks.0.fusion.1.attn`; the module's own path if it is in no indexed container."""
    parts, module, branches = [], model, False
    for part in name.split("."):
        parts.append("*" if branches and part.isdigit() else part)
        parent, module = module, module.get_submodule(part)
        branches = part in PARALLEL_BRANCHES.get(class_name(type(parent)), ())
    indexed = [i for i, part in enumerate(parts) if part.isdigit() or part == "*"]
    return ".".join(parts[: indexed[-1] + 1]) if indexed else name


def depth_levels(model: nn.Module, names: list[str]) -> list[int]:
    """The depth (0 = first) of each of the modules `names` (in the order of `model.named_modules()`): the index of
    its block among the distinct blocks of all of them, in the order they first appear."""
    blocks = [block_of(model, name) for name in names]
    order = {block: depth for depth, block in enumerate(dict.fromkeys(blocks))}
    return [order[block] for block in blocks]
