"""Checkers of the model and training exercises: a decreasing drop-ratio schedule (05), the parameter count of
the tiny ViT (07), the learning-rate schedule (08)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from ..i18n import _
from ..train import learning_rate
from ..vit import TinyViT, ViTConfig, count_parameters
from ._grading import RTOL, _call, _checker, _close, _fail, _name, _precision_note

# --------------------------------------------------------------------------------------------------------------
# 05: a decreasing drop-ratio schedule


SCHEDULE_RATIOS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.45)
SCHEDULE_DEPTHS = (1, 2, 3, 4, 6, 12, 24)


@_checker
def check_schedule(
    fn: Callable[[float, int], Sequence[float]],
    *,
    ratios: Sequence[float] = SCHEDULE_RATIOS,
    depths: Sequence[int] = SCHEDULE_DEPTHS,
) -> str:
    """Grade `fn(drop_ratio, depth) -> per-layer ratios`, first layer first: a schedule like the library's
    `linear_down`, of any shape, as a list, an array or a tensor of any floating dtype.

    Right means, for every mean ratio in SCHEDULE_RATIOS (all below 0.5) and depth in SCHEDULE_DEPTHS, depth 1
    first: `depth` numbers in [0, 1), whose mean is `drop_ratio`, that never increase from one layer to the next,
    and whose first layer drops more than its last when depth > 1 and drop_ratio > 0. A single layer therefore
    gets `drop_ratio` itself. No randomness. `ratios` (each below 0.5) and `depths` choose other cases (the marked
    version's hidden tests).

    "Is", "never increases", "more" and "in [0, 1)" all allow a slack of RTOL * drop_ratio: a float32 schedule
    (torch.linspace, say) rounds every layer's ratio to about 1e-7 of the mean ratio. The wrong schedules are off by
    far more: `linspace(ratio, 0, depth)` has half the mean, a reversed schedule increases by
    2 * ratio / (depth - 1).
    """
    name = _name(fn)
    schedules = {}
    for drop_ratio in ratios:
        slack = RTOL * drop_ratio
        for depth in depths:
            answer = _call(fn, drop_ratio, depth)
            try:
                ratios = [float(r) for r in answer]
            except (TypeError, ValueError):
                _fail(
                    _("{call} returned {answer!r}, not a list of numbers.").format(
                        call=f"{name}({drop_ratio}, {depth})", answer=answer
                    ),
                    _("Return one drop ratio per layer."),
                )
            where = f"{name}({drop_ratio}, {depth}) = {[round(r, 4) for r in ratios]}"
            # The hints below start with a space, the separator of English sentences: a translation decides its own.
            if len(ratios) != depth:
                hint = _(" A single layer (depth 1) gets the mean ratio itself: [drop_ratio].") if depth == 1 else ""
                _fail(
                    _("{where} has {count} entries.").format(where=where, count=len(ratios)),
                    _("Return one ratio per layer: `depth` numbers.") + hint,
                )
            if not all(-slack <= r < 1.0 for r in ratios):
                _fail(
                    _("{where} has a ratio outside [0, 1).").format(where=where),
                    _(
                        "Every layer's ratio is a probability below 1. Your schedule must work for every mean ratio "
                        "below 0.5 and every depth up to 24 (the library's goes from 2 * ratio down to 0)."
                    ),
                )
            mean = sum(ratios) / depth
            if abs(mean - drop_ratio) > slack:
                if depth == 1:
                    hint = _(" With a single layer the mean is that layer's ratio: depth 1 gets [drop_ratio] itself.")
                elif abs(mean - drop_ratio / 2) <= slack:
                    hint = _(
                        " That is half the ratio: `linspace(ratio, 0, depth)` is the alternative reading that "
                        "notebook 05 warns about."
                    )
                else:
                    hint = ""
                _fail(
                    _("{where} has mean {mean:.10g}, not {ratio}.").format(where=where, mean=mean, ratio=drop_ratio),
                    _(
                        "The schedule must keep the MEAN ratio, so that every schedule drops the same number of keys "
                        "in total and the comparison is fair."
                    )
                    + hint
                    + _precision_note(ratios),
                )
            if any(b > a + slack for a, b in itertools.pairwise(ratios)):
                _fail(
                    _("{where} increases somewhere.").format(where=where),
                    _("The paper's schedule decreases with depth: the first layer (next to the patches) drops most."),
                )
            if depth > 1 and drop_ratio > 0 and not ratios[0] > ratios[-1] + slack:
                _fail(
                    _("{where} is constant.").format(where=where),
                    _("A decreasing schedule drops more in the first layer than in the last."),
                )
            schedules[drop_ratio, depth] = ratios
    linear = all(
        _close(ratios, np.linspace(2 * drop_ratio, 0, depth), scale=drop_ratio)
        for (drop_ratio, depth), ratios in schedules.items()
        if depth > 1
    )
    kind = _("the library's linear_down") if linear else _("a decreasing schedule of your own")
    return _("Correct: {name} is {kind}: the mean ratio is kept and the ratio never increases with depth.").format(
        name=name, kind=kind
    )


# --------------------------------------------------------------------------------------------------------------
# 07: the parameter count of the tiny ViT


# Notebook 07 builds the plain ViT: a patch embedding, a class token and an MLP ratio of 4. Today's default TinyViT
# (a convolutional stem, mean pooling, two blocks) is not what it teaches, so every configuration starts from this.
PARAMETER_BASE = {"stem": "patch", "pool": "cls", "mlp_ratio": 4.0}
PARAMETER_CONFIGS = (
    {},
    {"dim": 64, "depth": 3},
    {"patch_size": 8},
    {"patch_size": 2, "dim": 32, "depth": 1},
    {"pool": "mean"},
    {"mlp_ratio": 2.0, "num_classes": 100},
    {"num_heads": 2},
    {"num_heads": 8, "depth": 6},
)


@_checker
def check_parameter_count(fn: Callable[[ViTConfig], int], *, configs: Sequence[dict] = PARAMETER_CONFIGS) -> str:
    """Grade `fn(config) -> int`: the number of trainable parameters of `TinyViT(config)`, from the config alone.

    Compared exactly with `count_parameters(TinyViT(config))` for the configurations in PARAMETER_CONFIGS, each on
    top of PARAMETER_BASE, the patch-embedding ViT of notebook 07 (patch sizes 2 to 8, widths, depths, heads,
    pooling, MLP ratio and classes all vary). `configs` chooses other changes (the marked version's hidden tests).
    """
    name = _name(fn)
    for changes in configs:
        overrides = {**PARAMETER_BASE, **changes}
        config = ViTConfig(**overrides)
        exact = count_parameters(TinyViT(config))
        answer = _call(fn, config)
        try:
            whole = not isinstance(answer, bool) and bool(int(answer) == answer)
        except (TypeError, ValueError):
            whole = False
        if not whole:
            _fail(
                _("{name} returned {answer!r}; a parameter count is a whole number.").format(name=name, answer=answer),
                _("Return an int."),
            )
        if int(answer) == exact:
            continue
        _diagnose_parameter_count(int(answer), exact, config, overrides)
    return _(
        "Correct: {name} counts every parameter. The number of heads changes nothing: heads only split the channels."
    ).format(name=name)


def _diagnose_parameter_count(answer: int, exact: int, config: ViTConfig, overrides: dict) -> None:
    c, hidden = config.dim, int(config.dim * config.mlp_ratio)
    tokens = config.layout.num_tokens
    layer_norms = 2 * c * (2 * config.depth + 1)
    biases = c + config.depth * (3 * c + c + hidden + c) + config.num_classes
    mistakes = {
        exact - c: _(
            "You are one `dim` short: the class token (1 x dim), or its slot in the position embedding "
            "((N + 1) x dim: the class token has a position too)."
        ),
        exact + c: _(
            "You count a class token that is not there: with pool='mean' there is no class token and the position "
            "embedding has N slots."
        ),
        exact - tokens * c: _("You forgot the position embedding: one learned dim-vector per token."),
        exact - layer_norms: _(
            "You forgot the LayerNorms: 2 per block and a final one, each with a weight and a bias of size dim."
        ),
        exact - biases: _("You forgot the biases: the patch embedding, qkv, proj, fc1, fc2 and the head all have one."),
        exact - c * c * config.depth: _(
            "An attention layer has qkv (dim -> 3 dim) and proj (dim -> dim): you left out a dim x dim matrix per "
            "block."
        ),
    }
    where = _("{answer:,} for ViTConfig({config}), but it has {exact:,}").format(
        answer=answer, config=", ".join(f"{k}={v!r}" for k, v in overrides.items()), exact=exact
    )
    if answer in mistakes:
        _fail(_("Your count is {where}.").format(where=where), mistakes[answer])
    _fail(
        _("Your count is {where} (off by {difference:+,}).").format(where=where, difference=answer - exact),
        _(
            "Count part by part as in section 4: patch embedding (a conv with 3 * patch_size**2 * dim weights + dim "
            "biases), class token, position embedding, per block two LayerNorms, qkv, proj, fc1, fc2, then the final "
            "LayerNorm and the head. The number of heads adds nothing."
        ),
    )


# --------------------------------------------------------------------------------------------------------------
# 08: the learning-rate schedule


LR_CASES = ((100, 10, 1e-3), (504, 32, 2e-3), (20, 0, 1.0), (7, 3, 0.5))


@_checker
def check_learning_rate(
    fn: Callable[[int, int, int, float], float], *, cases: Sequence[tuple[int, int, float]] = LR_CASES
) -> str:
    """Grade `fn(step, total_steps, warmup_steps, base_lr) -> lr`: linear warm-up, then cosine decay to 0, as the
    library's `train.learning_rate`, as a number (a Python float, a NumPy or 0-d torch scalar of any dtype).

    Compared at every step of each (total_steps, warmup_steps, base_lr) in `cases`, LR_CASES unless given (one
    without warm-up), to a relative RTOL or an absolute ATOL * base_lr: near the end of the decay
    1 + cos(pi * progress) is a small difference of numbers near 1, which float32 (torch.cos on a tensor) knows
    only to a few 1e-8. The wrong answers it diagnoses are off by a relative
    1e-2 or more at some step: a rate of 0 at the first step, a linear decay, the progress counted from step 0.
    """
    name = _name(fn)
    for total, warmup, base in cases:
        answers = []
        for step in range(total):
            answer = _call(fn, step, total, warmup, base)
            try:
                answers.append(float(answer))
            except (TypeError, ValueError):
                _fail(
                    _("{name} returned {answer!r}, not a number.").format(name=name, answer=answer),
                    _("Return the learning rate of that step."),
                )
        exact = [learning_rate(step, total, warmup, base) for step in range(total)]
        wrong = [s for s in range(total) if not _close(answers[s], exact[s], scale=base)]
        if not wrong:
            continue
        step = wrong[0]
        where = _("{call} = {answer:.10g}, expected {exact:.10g}").format(
            call=f"{name}({step}, total_steps={total}, warmup_steps={warmup}, base_lr={base})",
            answer=answers[step],
            exact=exact[step],
        )
        if step < warmup:
            if answers[0] == 0:
                _fail(
                    _("{where}: the first step has learning rate 0, a wasted step.").format(where=where),
                    _("Warm up as base_lr * (step + 1) / warmup_steps: the last warm-up step reaches base_lr."),
                )
            _fail(
                _("{where} (during the warm-up).").format(where=where),
                _("During the first warmup_steps steps the rate grows linearly: base_lr * (step + 1) / warmup_steps.")
                + _precision_note(answers[step]),
            )
        progress = (step - warmup) / max(1, total - warmup)
        if _close(answers[step], base * (1 - progress), scale=base):
            _fail(
                _("{where}: that is a linear decay.").format(where=where),
                _(
                    "After the warm-up the rate follows a cosine: base_lr * (1 + cos(pi * progress)) / 2, with "
                    "progress going from 0 to 1."
                ),
            )
        _fail(
            _("{where} (after the warm-up).").format(where=where),
            _(
                "After the warm-up: progress = (step - warmup_steps) / (total_steps - warmup_steps), and the rate is "
                "base_lr * (1 + cos(pi * progress)) / 2, which falls from base_lr to 0."
            )
            + _precision_note(answers[step]),
        )
    return _("Correct: {name} warms up linearly to base_lr, then decays along a cosine to 0.").format(name=name)
