"""Checkers of the attention exercises: dropout after the softmax (01), DropKey (02), the seed probability of
structured DropKey (06)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..attention import dropkey_weights, seed_probability
from ..i18n import _
from ._grading import (
    DROPPED,
    _call,
    _calls,
    _check_drop_fraction,
    _check_independent,
    _checker,
    _close,
    _fail,
    _name,
    _precision_note,
    _seeded,
)

# --------------------------------------------------------------------------------------------------------------
# 01: post-softmax attention dropout


# (shape of the weights, drop ratio) of each statistical pass; every pass calls the answer 16 times.
DROPOUT_CASES = (((8, 4, 16, 16), 0.3), ((40, 12, 7), 0.1))


@_checker
def check_attention_dropout(
    fn: Callable[[Tensor, float], Tensor],
    *,
    cases: Sequence[tuple[tuple[int, ...], float]] = DROPOUT_CASES,
    seed: int = 1,
) -> str:
    """Grade `fn(weights, ratio) -> weights after dropout`: classic post-softmax attention dropout (timm's
    `attn_drop`), with torch's global RNG.

    Right means: every entry is zeroed independently with probability `drop_ratio` (per sample, head, query and key, a
    fresh draw at every call), and every surviving entry is the input times exactly 1 / (1 - ratio); with ratio 0
    the weights come back unchanged. The result may be a tensor or a NumPy array, of any floating dtype. Checked on
    softmax weights of shape (8, 4, 16, 16) at ratio 0.3 and (40, 12, 7) at ratio 0.1 (DROPOUT_CASES), 16 calls
    each; the statistical limits are those of `_check_drop_fraction` and `_check_independent` (false failure below
    1e-6). `cases` and `seed` choose other inputs (the marked version's hidden tests): the limits hold for shapes
    with at least 7,000 rows over the 16 calls and 40,000 neighbouring pairs along every dimension.
    """
    name = _name(fn)
    kind = _("Attention dropout")
    with _seeded(seed):
        for shape, drop_ratio in cases:
            weights = torch.randn(shape).softmax(-1)
            out = _calls(fn, weights, drop_ratio, 16)
            drops = out == 0
            if not drops.any():
                if torch.allclose(out, weights.expand_as(out)):
                    _fail(
                        _("{name} drops nothing: it returns the weights unchanged.").format(name=name),
                        _(
                            "Zero each weight with probability `drop_ratio`. (F.dropout(x, p) with training=False, or "
                            "an nn.Dropout in eval mode, does nothing.)"
                        ),
                    )
                _fail(
                    _("{name} never returns an exact zero.").format(name=name),
                    _("Dropout sets a dropped weight to exactly 0."),
                )
            scale = out[~drops] / weights.expand_as(out)[~drops]
            target = 1 / (1 - drop_ratio)
            if not torch.allclose(scale, torch.full_like(scale, target), rtol=1e-4):
                row_sums = out.sum(-1)
                kept_rows = (~drops).any(-1)
                if torch.allclose(row_sums[kept_rows], torch.ones_like(row_sums[kept_rows]), atol=1e-4):
                    _fail(
                        _("Every row of your weights sums to one: you renormalise the rows."),
                        _(
                            "Renormalising over the kept keys is what DropKey's softmax does. Dropout multiplies the "
                            "survivors by the constant 1/(1 - ratio) = {target:.4f} instead, and its rows do not "
                            "sum to one."
                        ).format(target=target),
                    )
                if torch.allclose(scale, torch.ones_like(scale), rtol=1e-4):
                    _fail(
                        _("The surviving weights are not rescaled."),
                        _("Multiply them by 1/(1 - ratio) = {target:.4f}: then E[w] = p, dropout is unbiased.").format(
                            target=target
                        ),
                    )
                if torch.allclose(scale, torch.full_like(scale, 1 - drop_ratio), rtol=1e-4):
                    _fail(
                        _("You multiply the survivors by (1 - ratio); divide by it instead."),
                        _("The survivors must grow by 1/(1 - ratio) = {target:.4f} so that E[w] = p.").format(
                            target=target
                        ),
                    )
                _fail(
                    _("The survivors are scaled by factors from {smallest:.4f} to {largest:.4f}.").format(
                        smallest=float(scale.min()), largest=float(scale.max())
                    ),
                    _("Every survivor must be the input times 1/(1 - ratio) = {target:.4f}.").format(target=target),
                )
            _check_independent(drops, name, kind)
            _check_drop_fraction(drops, drop_ratio, kind)
        weights = torch.randn(4, 6, 6).softmax(-1)
        unchanged = _calls(fn, weights, 0.0, 1)[0]
        if not torch.allclose(unchanged, weights):
            _fail(_("With ratio 0 your function changes the weights."), _("Ratio 0 drops nothing and rescales by 1."))
        sums = _calls(fn, weights.repeat(500, 1, 1), 0.3, 1)[0].sum(-1)
    return _(
        "Correct: {name} is post-softmax dropout. Its row sums have mean {mean:.3f} but range from {smallest:.2f} to "
        "{largest:.2f} (ratio 0.3, six keys): unbiased, but a single draw is no longer a distribution."
    ).format(name=name, mean=float(sums.mean()), smallest=float(sums.min()), largest=float(sums.max()))


# --------------------------------------------------------------------------------------------------------------
# 02: DropKey


# (shape of the scores, drop ratio, number of calls) of each statistical pass.
DROPKEY_CASES = (((8, 4, 16, 16), 0.3, 16), ((40, 12, 7), 0.1, 24))


@_checker
def check_dropkey(
    fn: Callable[[Tensor, float], Tensor],
    *,
    cases: Sequence[tuple[tuple[int, ...], float, int]] = DROPKEY_CASES,
    seed: int = 2,
) -> str:
    """Grade `fn(scores, ratio) -> weights`: DropKey on pre-softmax scores (..., N_q, N_k), with torch's global RNG.

    Right means, as the library's `attention.dropkey_weights`: the weights have the shape of the scores; every
    (..., query, key) entry is dropped independently with probability `drop_ratio`, afresh at every call; a dropped
    entry has weight exactly 0; the kept entries are the softmax of the scores renormalised over the kept keys, so
    every row sums to one, with no 1/(1 - ratio) rescaling. A row whose keys are all dropped must not be NaN;
    any finite weights pass there (the library, like Algorithm 1 in float32, gives it uniform weights). The weights
    may be a tensor or a NumPy array, of any floating dtype.

    How: 16 calls on scores (8, 4, 16, 16) at ratio 0.3 and 24 calls on (40, 12, 7) at ratio 0.1 (DROPKEY_CASES;
    `cases` and `seed` choose others, as for `check_attention_dropout`), float32 scores that are already scaled
    logits. The zero pattern of each call is the mask; the weights are compared with
    `dropkey_weights(scores, ratio, drop_mask=mask)` to 1e-5, then the mask's statistics with `_check_independent`
    and `_check_drop_fraction` (false failure below 1e-6 in all). All-dropped rows (probability ratio**N_k: 4e-9
    and 1e-7 per row here) are left out of the comparison. Then ratio 0 must give the plain softmax, and scores
    (4096, 1, 2) at ratio 0.5 (one row in four all dropped) must give no NaN.
    """
    name = _name(fn)
    with _seeded(seed):
        for shape, drop_ratio, draws in cases:
            _check_dropkey_pass(fn, torch.randn(shape), drop_ratio, draws)
        scores = torch.randn(4, 6, 6)
        plain = _calls(fn, scores, 0.0, 1, from_logits=True)[0]
        if not torch.allclose(plain, scores.softmax(-1), atol=1e-6):
            _fail(
                _("With ratio 0 your weights differ from the plain softmax of the scores."),
                _("Ratio 0 drops nothing: DropKey is then exactly the softmax."),
            )
        _calls(fn, torch.randn(4096, 1, 2), 0.5, 1, from_logits=True)  # all-dropped rows: no NaN (_as_weights)
    return _(
        "Correct: {name} is DropKey. Dropped keys get weight exactly 0, each (query, key) entry independently "
        "with probability ratio, and every row is the softmax renormalised over the kept keys."
    ).format(name=name)


def _check_dropkey_pass(fn: Callable, scores: Tensor, drop_ratio: float, draws: int) -> None:
    name = _name(fn)
    weights = _calls(fn, scores, drop_ratio, draws, from_logits=True)
    n_keys = scores.shape[-1]
    plain = scores.softmax(-1).expand_as(weights)
    drops = weights.abs() < DROPPED
    uniform_rows = (weights - 1 / n_keys).abs().amax(-1) < 1e-6
    empty_rows = drops.all(-1)
    all_dropped = uniform_rows | empty_rows  # probability ratio**N_k per row: almost never
    if all_dropped.float().mean() > 0.01:
        _fail(
            _("{share:.0%} of your rows are uniform or all zero, as if every key of the row were dropped.").format(
                share=float(all_dropped.float().mean())
            ),
            _(
                "That happens when whole queries are dropped (a mask of shape (..., N_q, 1)). DropKey drops single "
                "(query, key) entries; a row loses all its keys only with probability ratio**N_k."
            ),
        )
    if not drops.any():
        if torch.allclose(weights, plain, atol=1e-6):
            _fail(
                _("Nothing is dropped: in {draws} calls, {name} returned the plain softmax of the scores.").format(
                    draws=draws, name=name
                ),
                _(
                    "Did you write -1e-12 instead of -1e12? Adding mask * -1e-12 moves a logit by 10^-12, which "
                    "changes nothing (notebook 02, bug 1). A dropped key needs a hugely negative logit, -1e12."
                ),
            )
        _fail(
            _("No weight is exactly 0, but the weights differ from the plain softmax."),
            _(
                "A dropped key must get weight exactly 0: give its logit a hugely negative value before the softmax "
                "(-1e12, or masked_fill with torch.finfo(scores.dtype).min). A logit of 0 (or a zeroed key "
                "vector) still gets weight (notebook 02, bug 4)."
            ),
        )
    rows = ~all_dropped
    sums = weights.sum(-1)
    if not torch.allclose(sums[rows], torch.ones_like(sums[rows]), atol=1e-4):
        _diagnose_row_sums(weights, plain, drops, rows, scores, drop_ratio)
    # The kept weights before the statistics of the zeros: a wrong formula can also put zeros in odd places, and
    # then the formula is the mistake to report.
    expected = dropkey_weights(scores.expand_as(weights), drop_ratio, drop_mask=drops)
    gap = float((weights - expected)[rows].abs().max())
    if gap > 1e-5:
        _diagnose_kept_weights(weights, drops, rows, gap)
    _check_independent(drops, name, "DropKey")
    _check_drop_fraction(drops[rows], drop_ratio, "DropKey")


def _diagnose_kept_weights(weights: Tensor, drops: Tensor, rows: Tensor, gap: float) -> None:
    """The zeros are in place and the rows sum to one, but the kept weights are not the renormalised softmax."""
    kept = (~drops).sum(-1)
    single = float(((kept == 1) & rows).float().mean())  # all weight on one key: probability <= 6e-6 per row
    partial = rows & drops.any(-1) & (kept >= 2)
    spread = weights.masked_fill(drops, 0).amax(-1) - weights.masked_fill(drops, 1).amin(-1)
    equal = float((spread[partial] <= 1e-6).float().mean()) if partial.any() else 0.0  # the scores all differ
    if single > 0.01 or equal > 0.5:
        _fail(
            _(
                "Your weights ignore the scores of the kept keys: {single:.0%} of the rows put all their weight on "
                "one key, and in {equal:.0%} of the rows with several kept keys those keys all get the same weight."
            ).format(single=single, equal=equal),
            _(
                "That is what multiplying the scores by the mask gives. scores * (mask * -1e12) turns every kept "
                "logit into 0 (0 times the score), so the kept keys share the weight equally, and it flips the sign "
                "of a dropped key's negative score into a hugely POSITIVE logit, which then takes all the weight. "
                "Leave the kept logits alone and ADD the large negative value to the dropped ones: "
                "scores + mask * -1e12, or scores.masked_fill(mask.bool(), -1e12)."
            ),
        )
    _fail(
        _(
            "Your kept weights are not the softmax renormalised over the kept keys (largest difference {gap:.2g})."
        ).format(gap=gap),
        _(
            "Keep the scores as they are (they are already the scaled logits: do not scale them again), give the "
            "dropped entries a hugely negative logit, and take the softmax over the last dimension."
        ),
    )


def _diagnose_row_sums(
    weights: Tensor, plain: Tensor, drops: Tensor, rows: Tensor, scores: Tensor, drop_ratio: float
) -> None:
    """The rows do not sum to one: say why, for the usual mistakes."""
    sums = weights.sum(-1)[rows]
    span = _("between {smallest:.3f} and {largest:.3f}").format(smallest=float(sums.min()), largest=float(sums.max()))
    kept = ~drops & rows.unsqueeze(-1)
    if torch.allclose(weights.sum(-2), torch.ones_like(weights.sum(-2)), atol=1e-4):
        _fail(
            _("Your rows sum to values {span}, but your columns sum to one.").format(span=span),
            _("Take the softmax over the keys, the last dimension: softmax(dim=-1)."),
        )
    after_softmax = weights[kept] / plain[kept]
    rescaled = 1 / (1 - drop_ratio)
    if torch.allclose(after_softmax, torch.full_like(after_softmax, rescaled), rtol=1e-4):
        _fail(
            _(
                "This is dropout after the softmax, with the 1/(1 - ratio) rescale (timm's attn_drop): your rows sum "
                "to values {span}."
            ).format(span=span),
            _(
                "Each survivor is its plain softmax weight times 1/(1 - ratio), so the rows are no longer "
                "distributions. DropKey masks the logits BEFORE the softmax; the softmax then renormalises over the "
                "kept keys, and every row sums to one."
            ),
        )
    if torch.allclose(after_softmax, torch.ones_like(after_softmax), rtol=1e-4):
        _fail(
            _("You zero weights after the softmax: your rows sum to values {span}.").format(span=span),
            _(
                "The survivors keep their plain softmax weights, so a row sums to less than one (notebook 02, bug "
                "3). Mask the logits BEFORE the softmax, so that it renormalises over the kept keys."
            ),
        )
    renormalised = dropkey_weights(scores.expand_as(weights), drop_ratio, drop_mask=drops)
    factor = weights[kept] / renormalised[kept]
    if torch.allclose(factor, torch.full_like(factor, float(factor.mean())), rtol=1e-4):
        c = float(factor.mean())
        if abs(c - rescaled) < 1e-3:
            _fail(
                _("Every row sums to {total:.4f} = 1/(1 - ratio): you rescale by 1/(1 - ratio).").format(total=c),
                _(
                    "DropKey has no rescaling: the softmax already renormalises over the kept keys, so the weights "
                    "of each row sum to one. Remove the factor."
                ),
            )
        _fail(
            _("Every row sums to {total:.4f} instead of 1.").format(total=c),
            _("Return the softmax itself, without a factor."),
        )
    if (weights > 1 + 1e-6).any():
        _fail(
            _(
                "Some of your weights are above one (the largest is {largest:.4g}), and the rows sum to values "
                "{span}: these are not probabilities."
            ).format(largest=float(weights.max()), span=span),
            _(
                "Did you exponentiate the logits without normalising? softmax(dim=-1) divides every exp by the sum "
                "of its row, so each weight lies in [0, 1] and every row sums to one."
            ),
        )
    _fail(
        _("The rows of your weights sum to values {span}.").format(span=span),
        _(
            "DropKey's weights are a softmax over the keys (the last dimension), taken after dropping: every row "
            "sums to one."
        ),
    )


# --------------------------------------------------------------------------------------------------------------
# 06: the seed probability of structured DropKey


@_checker
def check_seed_probability(
    fn: Callable[[float, int, str], float],
    *,
    windows: Sequence[int] = (1, 3, 5, 7),
    ratios: Sequence[float] = (0.05, 0.1, 0.3, 0.6),
) -> str:
    """Grade `fn(ratio, window_size, shape) -> gamma`: the probability that a grid position is a seed, such that
    every key is dropped with probability `drop_ratio` by block (`shape="block"`, w x w) or cross (`"cross"`, 2w - 1
    cells) windows, for both shapes and every window size in `windows` (odd) and ratio in `ratios`. No randomness.

    Compared with `attention.seed_probability` to a relative RTOL plus an absolute ATOL: gamma = 1 - (1 - r)**(1/|S|)
    is a difference of numbers near 1, which float32 knows to a few 1e-8. The wrong answers miss by far more
    somewhere: ratio / |S| by a relative 2% or more (w = 3, ratio 0.05 already), gamma = ratio by a factor |S|.
    """
    name = _name(fn)
    for shape in ("block", "cross"):
        for window_size in windows:
            cover = window_size**2 if shape == "block" else 2 * window_size - 1
            for drop_ratio in ratios:
                answer = _call(fn, drop_ratio, window_size, shape)
                try:
                    gamma = float(answer)
                except (TypeError, ValueError):
                    _fail(
                        _("{name} returned {answer!r}, not a number.").format(name=name, answer=answer),
                        _("Return gamma, a probability."),
                    )
                exact = seed_probability(drop_ratio, window_size, shape)
                if _close(gamma, exact):
                    continue
                where = _("{call} = {gamma:.10g}, but gamma = {exact:.10g}").format(
                    call=f"{name}({drop_ratio}, {window_size}, {shape!r})", gamma=gamma, exact=exact
                )
                other = (2 * window_size - 1) if shape == "block" else window_size**2
                if _close(gamma, 1 - (1 - drop_ratio) ** (1 / other)):
                    _fail(
                        _("{where}: you count the cells of the other shape.").format(where=where),
                        _(
                            "A key is covered by w * w seed positions for a block, and 2w - 1 for a cross (a plus "
                            "with arms of w // 2)."
                        ),
                    )
                if _close(gamma, drop_ratio / cover):
                    _fail(
                        _("{where}: ratio / |S| is only the small-ratio approximation.").format(where=where),
                        _(
                            "Windows overlap: a key is kept only if NONE of its |S| seed positions fires, so "
                            "P(kept) = (1 - gamma)**|S| = 1 - ratio. Solve that for gamma."
                        ),
                    )
                if _close(gamma, drop_ratio) and cover > 1:
                    _fail(
                        _("{where}: each seed drops a whole window.").format(where=where),
                        _(
                            "With gamma = ratio far more than `drop_ratio` of the keys would be dropped. A key is "
                            "kept only if none of its |S| seed positions fires: (1 - gamma)**|S| = 1 - ratio."
                        ),
                    )
                _fail(
                    _("{where} (a relative difference of {difference:.2g}).").format(
                        where=where, difference=abs(gamma - exact) / exact
                    ),
                    _(
                        "Set P(key kept) = (1 - gamma)**|S| equal to 1 - ratio, with |S| = w * w for a block and "
                        "2w - 1 for a cross, and solve for gamma."
                    )
                    + _precision_note(gamma),
                )
    return _(
        "Correct: {name} gives gamma = 1 - (1 - ratio)**(1/|S|), so every key is dropped with probability ratio."
    ).format(name=name)
