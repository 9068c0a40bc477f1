"""Builds a notebook of the experiments issue with nbformat; see drafts/issue5/README.md."""
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CHECKPOINTS = sys.argv[1] if len(sys.argv) > 1 else "../results/checkpoints.json"
OUT = sys.argv[2] if len(sys.argv) > 2 else str(Path(__file__).resolve().parents[2] / "notebooks" / "11_attention_analysis.ipynb")

cells = []


def md(text):
    cells.append(new_markdown_cell(text.strip("\n")))


def code(text, ignore=False):
    cell = new_code_cell(text.strip("\n"))
    if ignore:
        cell.metadata["tags"] = ["nbval-ignore-output"]
    cells.append(cell)


md(r"""
# 11 · Attention analysis

**Goal.** Notebook 10 compared regularisers by their accuracy. Here we open up the trained models and look at *what
they attend to*. The paper's story is that DropKey penalises attention peaks, so a model trained with it should
spread its attention over more of the image. We take the models shipped with the repository (trained in the
small-data grid without a regulariser, with attention dropout and with DropKey), run them on the same test images,
and look at:

1. each head's attention from the class token, drawn as an 8×8 map over the image;
2. **attention rollout**, which follows the attention through all layers back to the input patches;
3. two numbers per layer: the **entropy** of the attention (how spread out) and the **mean attention distance**
   (how far a patch looks).

Nothing is trained here; the whole notebook runs in well under a minute.
""")

code(f"""
import math
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from dropkey_lib import report
from dropkey_lib.analysis import attention_rollout, attention_statistics
from dropkey_lib.data import CLASSES, load_cifar10, subset, to_float
from dropkey_lib.plots import plot_layer_ratios
from dropkey_lib.settings import quick_mode
from dropkey_lib.train import evaluate, load_model
from dropkey_lib.vit import count_parameters

CHECKPOINTS = Path("{CHECKPOINTS}")  # relative to this notebook's folder
QUICK = quick_mode()  # DROPKEY_QUICK=1: evaluate on a 1,000-image subset of the test set instead of all 10,000
""")

md(r"""
## 1. The shipped models

`results/checkpoints.json` lists the checkpoints and the test accuracy each had on the full CIFAR-10 test set when
it was exported. `load_model` rebuilds the TinyViT from the configuration stored in the checkpoint and loads its
weights, in eval mode: no drops at test time, whatever the regulariser.
""")

code("""
index = report.load_checkpoint_index(CHECKPOINTS)
models = {name: load_model(entry["path"]) for name, entry in index.items()}
for name, model in models.items():
    c = model.config
    print(f"{name:8s} {c.attention_mode:8s} ratio {c.drop_ratio:g} ({c.drop_schedule}), dim {c.dim}, depth {c.depth}, "
          f"{c.num_heads} heads, {count_parameters(model) / 1e6:.2f}M parameters")
""")

code("""
modes = {model.config.attention_mode for model in models.values()}
assert "none" in modes and "dropkey" in modes, f"need a model without and one with DropKey, got {modes}"
assert len({(m.config.dim, m.config.depth, m.config.num_heads) for m in models.values()}) == 1, "same architecture"
config = next(iter(models.values())).config
GRID, PREFIX = config.grid_size, config.num_prefix_tokens
N = PREFIX + GRID[0] * GRID[1]  # tokens: the class token and the patches
print(f"{GRID[0]}x{GRID[1]} patches of {config.patch_size}x{config.patch_size} pixels + {PREFIX} class token = {N} tokens")
""")

md(r"""
## 2. Do the checkpoints still score what was recorded?

Before reading anything into a model, check that it is the model we think it is: evaluate it again. In full mode this
uses all 10,000 test images and must reproduce the recorded accuracy within half a point (on the machine that
recorded it, exactly; another CPU may round a near-tie differently). In quick mode it uses a class-balanced
subset of 1,000 images (or the 500-image sample when the full data set is not available), so the accuracy differs
from the recorded one by sampling noise: a few points at most.
""")

code("""
data = load_cifar10(sample_fallback=QUICK)
print(data.source)
""", ignore=True)

code("""
test_images, test_labels = data.test_images, data.test_labels
if QUICK and len(test_labels) > 1000:
    test_images, test_labels = subset(test_images, test_labels, 1000, seed=0)
accuracy = {name: evaluate(model, test_images, test_labels)[1] for name, model in models.items()}
print(f"{'model':8s} {'recorded':>9s} {f'now ({len(test_labels):,} images)':>20s}")
for name in models:
    print(f"{name:8s} {index[name]['test_accuracy']:9.1%} {accuracy[name]:20.1%}")
""", ignore=True)

md(r"""
The numbers above depend on which copy of the data is found, so the tests do not compare them; what must hold is
checked here. The allowed deviation in quick mode is four standard errors of an accuracy measured on that many images.
""")

code("""
for name in models:
    recorded, now, n = index[name]["test_accuracy"], accuracy[name], len(test_labels)
    if n == 10_000 and data.source.startswith("CIFAR-10 from"):
        assert abs(now - recorded) <= 0.005, f"{name}: {now:.2%} on the full test set, but {recorded:.2%} was recorded"
    else:
        tolerance = 4 * math.sqrt(recorded * (1 - recorded) / n)
        assert abs(now - recorded) <= tolerance, f"{name}: {now:.1%} now vs {recorded:.1%} recorded"
print("every checkpoint reproduces its recorded test accuracy (within 0.5 points on all 10,000 images, within noise on a subset)")
""")

md(r"""
## 3. One image through the eyes of each model

We take the first image of the evaluation set that all models classify correctly (so that we compare *how* they see
it, not *whether* they get it right) and ask each model for its attention maps: `model.attention_maps(images)`
returns one (images, heads, tokens, tokens) tensor per layer, the plain softmax weights with no drops.
""")

code("""
with torch.no_grad():
    predictions = {name: model(to_float(test_images[:200])).argmax(-1) for name, model in models.items()}
correct = torch.stack([p == test_labels[:200] for p in predictions.values()]).all(0)
INDEX = int(correct.nonzero()[0])  # try another index
image, label = test_images[INDEX], int(test_labels[INDEX])
maps = {name: model.attention_maps(to_float(image[None])) for name, model in models.items()}
print(f"test image {INDEX}, label: {CLASSES[label]}")
""", ignore=True)

code("""
assert all(int(p[INDEX]) == label for p in predictions.values()), "every model classifies the image correctly"
assert all(len(m) == config.depth and m[0].shape == (1, config.num_heads, N, N) for m in maps.values())
""")

md(r"""
Each row below is one model: the image, then one panel per head. A panel shows the attention weights of the **class
token** (the query that the classifier reads) over the 8×8 patches in the **first** layer; bright = much weight. All
panels share one colour scale, and the title gives each head's largest weight on a single patch: a peaked head has a
large maximum, a spread-out head a small one (uniform attention would put 1/65 ≈ 0.015 on every token).
""")

code("""
report.plot_head_maps(maps, image, layer=0, grid_size=GRID, num_prefix_tokens=PREFIX)
plt.show()
""")

md(r"""
The same for the **last** layer, whose class token feeds the classifier directly:
""")

code("""
report.plot_head_maps(maps, image, layer=-1, grid_size=GRID, num_prefix_tokens=PREFIX)
plt.show()
""")

md(r"""
## 4. Attention rollout

A single layer's map shows where the class token looks *among the tokens of that layer*, but after the first layer
every token is already a mixture of patches. **Attention rollout** (Abnar & Zuidema, 2020) follows the mixing back
to the input: average the heads, add the identity for the residual connection, renormalise, and multiply the layers
(`analysis.attention_rollout`). The class token's row of the product says how much each input patch contributes to
it. Laid over the image, each map stretched to its own range (blue = the patch that contributes least, red = most);
the title gives the ratio of the largest to the smallest contribution, 1 for perfectly uniform attention:
""")

code("""
rollouts = {name: report.rollout_map(attention_rollout(m), grid_size=GRID, num_prefix_tokens=PREFIX)
            for name, m in maps.items()}
report.plot_rollout(image, rollouts, title=f"attention rollout of the class token, test image {INDEX}")
plt.show()
""")

md(r"""
One image is an anecdote: it shows what the numbers mean, not which model attends "better". The next section
averages over many images.

## 5. Entropy and attention distance per layer

`attention_statistics` computes, per layer and averaged over images, heads and queries:

- the **entropy** of each attention row, in nats: 0 when a query puts all its weight on one key, log 65 ≈ 4.17 when
  it spreads evenly over all 65 tokens;
- the **mean attention distance**: the distance in pixels between a patch and the patches it attends to, weighted
  by the attention (as in the ViT paper).

We use the same 500 test images the grid used for its statistics (a balanced subset, seed 0).
""")

code("""
probe_images, probe_labels = subset(test_images, test_labels, min(500, len(test_labels)), seed=0)
probe = to_float(probe_images)
stats = {name: attention_statistics(model, probe) for name, model in models.items()}
for key, unit in [("attention_entropy", "nats"), ("attention_distance", "px")]:
    print(key, f"({unit}), layer 1 ... {config.depth}")
    for name, values in stats.items():
        print(f"  {name:8s}", "  ".join(f"{v:5.2f}" for v in values[key]))
""", ignore=True)

code("""
for values in stats.values():
    assert all(0 <= h <= math.log(N) + 1e-5 for h in values["attention_entropy"])
    assert all(0 <= d <= math.dist((0, 0), (32, 32)) for d in values["attention_distance"])
""")

code("""
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
plot_layer_ratios({name: s["attention_entropy"] for name, s in stats.items()}, ax=axes[0],
                  ylabel="attention entropy (nats)", title="entropy per layer")
axes[0].axhline(math.log(N), color="black", linestyle=":", linewidth=1)
plot_layer_ratios({name: s["attention_distance"] for name, s in stats.items()}, ax=axes[1],
                  ylabel="mean attention distance (px)", title="attention distance per layer")
fig.tight_layout()
plt.show()
""")

md(r"""
A secondary summary of the paper (unverified, `paper/DIGEST.md` §6) reports that **per-head** entropy rises more
with DropKey than with dropout. Per head, from the attention maps of the same 500 images (dots: heads; bars: the
layer's mean; the dotted line is the maximum, log 65):
""")

code("""
head_entropies = {}
for name, model in models.items():
    head_entropies[name] = report.head_entropy(model.attention_maps(probe))
report.plot_head_entropy(head_entropies, reference=math.log(N), title="attention entropy per head")
plt.show()
""")

md(r"""
Which model has the flattest attention in each layer, on these images:
""")

code("""
for layer in range(config.depth):
    by_model = {name: s["attention_entropy"][layer] for name, s in stats.items()}
    flattest = max(by_model, key=by_model.get)
    print(f"layer {layer + 1}: highest entropy {flattest} ({by_model[flattest]:.2f} nats); "
          + ", ".join(f"{n} {v:.2f}" for n, v in by_model.items() if n != flattest))
""", ignore=True)

md(r"""
These are single models, one seed each, so there is no confidence interval here. Notebook 10 (section 7) has the same
two statistics for every configuration of the grid with 3 seeds each, and a paired test of whether DropKey's
attention is flatter than dropout's. Use this notebook to see *what* the statistics measure, and notebook 10 to
judge whether a difference is real.

## What you learned

- How to load shipped checkpoints and check that they reproduce their recorded accuracy before analysing them.
- How to read per-head attention maps of the class token on the patch grid, and what a peaked versus a spread-out
  head looks like.
- Attention rollout: following attention through the residual stream back to the input patches.
- Two summary statistics of attention per layer, entropy and mean attention distance, and why one model per
  configuration cannot tell a real difference from seed noise.

## Try this

- Change `INDEX` in section 3 to look at other images, for instance one that some model gets wrong.
- Draw the attention of a patch instead of the class token: `report.plot_head_maps(maps, image, query=1 + 8 * 3 + 3,
  grid_size=GRID)` is the patch in row 4, column 4 (token 0 is the class token). Does it look at its neighbours?
- Look at the middle layers with `layer=1` or `layer=2`.
- Evaluate on all 10,000 test images by running the notebook with `DROPKEY_QUICK=0`.
""")

nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
    "language_info": {"name": "python"},
})
nbformat.write(nb, OUT)
print("wrote", OUT)
