"""The grading machinery that every checker shares: calling an answer, failing with an explanation, and the
statistical checks of functions that return attention weights."""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..i18n import _

DROPPED = 1e-20  # a weight below this counts as dropped (softmax weights of the checkers' scores are above 1e-9)
Z_LIMIT = 6.0  # a statistic this many standard errors from its expectation fails: P(|Z| > 6) = 2e-9
CORRELATION_LIMIT = 0.1  # drop patterns that should be independent: |corr| is ~0.003 here, shared masks give 1

# Tolerances of the checkers that compare numbers with exact ones. A correct answer may be computed in float32
# (torch's default dtype, and what torch.linspace or torch.cos give), which rounds to a relative 6e-8; the few
# operations of an exercise stay well within RTOL. Where the exact value is a difference of numbers near the
# quantity's scale (1 + cos x near x = pi, 1 - (1 - r)**(1/|S|)), float32 keeps only an absolute precision of a
# few 1e-8 of that scale, hence ATOL, in units of the scale. The wrong answers the checkers diagnose are off by a
# relative 1e-3 or more in at least one of the cases tried (each checker's docstring says which).
RTOL = 1e-5
ATOL = 1e-6


class _NotAttempted(Exception):
    """The answer raised NotImplementedError: the exercise is not attempted yet."""


def _name(answer: Any) -> str:
    return getattr(answer, "__name__", type(answer).__name__)


def _checker(check: Callable[..., str]) -> Callable[..., None]:
    """Turn `check(answer, **cases) -> success line` into a notebook checker: prints the success line, or prints
    "not attempted yet" when the answer raises NotImplementedError; an AssertionError from `check` passes through.
    The keyword arguments choose other inputs than the notebook's (the marked version's hidden tests); the
    undecorated `check` stays reachable as `__wrapped__` (`marking.grade` uses it)."""

    @functools.wraps(check)
    def run(answer: Any, **cases: Any) -> None:
        if not callable(answer):
            raise TypeError(
                _("{checker} takes your function, got {type_name}: {answer!r}").format(
                    checker=check.__name__, type_name=type(answer).__name__, answer=answer
                )
            )
        try:
            message = check(answer, **cases)
        except _NotAttempted:
            print(
                _(
                    "{checker}: not attempted yet. Replace `raise NotImplementedError` in {function} with your code "
                    "and rerun this cell."
                ).format(checker=check.__name__, function=_name(answer))
            )
            return
        print(message)

    return run


def _call(answer: Callable, *args: Any) -> Any:
    """Call the answer; NotImplementedError means "not attempted", any other error fails the check with its text."""
    try:
        return answer(*args)
    except NotImplementedError:
        raise _NotAttempted from None
    except Exception as error:
        shown = ", ".join(_describe(a) for a in args)
        raise AssertionError(
            _(
                "{function}({arguments}) raised {error_type}: {error}\n"
                "Your function must run without an error on these inputs (the traceback above shows where it failed)."
            ).format(function=_name(answer), arguments=shown, error_type=type(error).__name__, error=error)
        ) from error


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return _("tensor of shape {shape}").format(shape=tuple(value.shape))
    if isinstance(value, np.ndarray):
        return _("array of shape {shape}").format(shape=value.shape)
    return repr(value)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's global RNG for the duration of a check and restore the caller's state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _fail(title: str, explanation: str) -> None:
    raise AssertionError(f"{title}\n{explanation}") from None


def _close(answer: Any, exact: Any, scale: float = 1.0) -> bool:
    """Whether every answer number equals its exact value within RTOL, or within ATOL * scale (see RTOL)."""
    return bool(np.allclose(answer, exact, rtol=RTOL, atol=ATOL * scale))


def _looks_float32(values: Any) -> bool:
    """Whether the numbers were most likely computed in float32: every one is exactly a float32 number, and at
    least one is not also a float16 number (short binary fractions such as 0.5 or 3.0 come out of float64
    arithmetic as well)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    with np.errstate(over="ignore"):
        return bool(x.size and np.array_equal(x.astype(np.float32), x) and not np.array_equal(x.astype(np.float16), x))


def _precision_note(values: Any) -> str:
    """A sentence for a failure message when the failing numbers look like float32 (else ""): the difference is
    larger than float32 rounding, which the tolerance allows for."""
    if not _looks_float32(values):
        return ""
    return "\n" + _(
        "Your numbers look like float32 (torch's default dtype), which keeps about 7 significant digits. The "
        "check allows for that (a relative {rtol:g}), so this difference is more than rounding; to rule rounding "
        "out completely, compute in float64 (dtype=torch.float64, or Python floats)."
    ).format(rtol=RTOL)


# --------------------------------------------------------------------------------------------------------------
# Shared checks for functions that return attention weights


def _as_weights(out: Any, like: Tensor, answer: Callable, drop_ratio: float, from_logits: bool = False) -> Tensor:
    """Check that the answer returned finite, non-negative floating-point weights with the shape of its input `like`
    (a NumPy array is taken as a tensor). `from_logits`: `like` holds the logits the weights are computed from, and
    returning those logits, masked but without a softmax, is diagnosed as such."""
    name = _name(answer)
    if isinstance(out, np.ndarray) and out.dtype.kind in "biuf":
        out = torch.as_tensor(out)
    if not isinstance(out, Tensor):
        _fail(
            _("{name} returned a {type_name}, not a torch.Tensor.").format(name=name, type_name=type(out).__name__),
            _("Return the weights as a tensor (or a NumPy array) with the shape of the input."),
        )
    if out.shape != like.shape:
        _fail(
            _("{name} returned shape {shape} for an input of shape {input_shape}.").format(
                name=name, shape=tuple(out.shape), input_shape=tuple(like.shape)
            ),
            _("The weights have one entry per (..., query, key): the shape of the input."),
        )
    if not out.is_floating_point():
        _fail(
            _("{name} returned a {dtype} tensor.").format(name=name, dtype=out.dtype),
            _("Weights are floating-point numbers."),
        )
    if from_logits:
        _check_not_logits(out, like, name)
    if out.isnan().any():
        _fail(
            _("{name} returned NaN in {count} of {total} entries (ratio {ratio}).").format(
                name=name, count=int(out.isnan().sum()), total=out.numel(), ratio=drop_ratio
            ),
            _(
                "NaN comes from -inf: 0 * -inf is NaN (a mask multiplied by -inf), and a softmax over a row whose "
                "logits are all -inf is 0/0. Use a large finite negative logit for dropped keys instead: Algorithm "
                "1's -1e12, or masked_fill with torch.finfo(scores.dtype).min (notebook 02, section 2)."
            ),
        )
    if not out.isfinite().all():
        _fail(
            _("{name} returned inf in {count} entries.").format(name=name, count=int((~out.isfinite()).sum())),
            _("Weights must be finite numbers."),
        )
    if (out < 0).any():
        _fail(
            _(
                "{count} of the {total} weights that {name} returned are negative (the smallest is {smallest:.4g}): "
                "these are not attention weights."
            ).format(count=int((out < 0).sum()), total=out.numel(), name=name, smallest=float(out.min())),
            _(
                "Attention weights are probabilities: every one lies in [0, 1], and every row sums to one. Negative "
                "numbers come from logits or log-probabilities (log_softmax): return softmax(dim=-1) of the logits."
            ),
        )
    return out


def _check_not_logits(out: Tensor, logits: Tensor, name: str) -> None:
    """Fail when `out` is the logits with their dropped entries masked (hugely negative, -inf or not), not yet turned
    into weights: every other entry is the logit itself. (No softmax gives a negative number; the scores have many.)"""
    masked = out < -1e6  # -1e12, finfo.min / 2, finfo.min or -inf
    rest = ~masked & ~out.isnan()
    if not rest.any() or not (out < 0).any():
        return
    if torch.allclose(out[rest].double(), logits.double()[rest], rtol=1e-5, atol=1e-5):
        _fail(
            _(
                "{name} returned logits, not weights: its numbers are the scores themselves, with {count} of {total} "
                "entries hugely negative. They are negative and their rows do not sum to one."
            ).format(name=name, count=int(masked.sum()), total=out.numel()),
            _(
                "Masking the logits is the first half of DropKey; now apply the softmax over the keys, "
                "softmax(dim=-1), and return its result: dropped keys then get weight exactly 0 and every row sums "
                "to one."
            ),
        )


def _calls(answer: Callable, inputs: Tensor, drop_ratio: float, draws: int, from_logits: bool = False) -> Tensor:
    """`draws` calls of answer(inputs, ratio), stacked as float32: (draws, *inputs.shape). Also checks that the
    input is left as it was (an in-place change would corrupt the caller's scores). `from_logits` as in
    `_as_weights`."""
    original = inputs.clone()
    outputs = []
    for _draw in range(draws):
        out = _as_weights(_call(answer, inputs, drop_ratio), inputs, answer, drop_ratio, from_logits)
        if not torch.equal(inputs, original):
            _fail(
                _("{name} changed its input in place.").format(name=_name(answer)),
                _(
                    "Functions like masked_fill_, add_ or `x += ...` modify the tensor you were given. Build a new "
                    "tensor instead (masked_fill, `x = x + ...`)."
                ),
            )
        outputs.append(out.detach().float())
    return torch.stack(outputs)


def _correlation(a: Tensor, b: Tensor) -> float:
    """Pearson correlation of two equally shaped 0/1 tensors (0 when either is constant)."""
    a, b = a.double().flatten(), b.double().flatten()
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum()) / denominator if denominator > 0 else 0.0


def _check_independent(drops: Tensor, name: str, kind: str) -> None:
    """drops: (draws, *batch, N_q, N_k) bool. Fail when neighbouring calls, batch entries, queries or keys share
    their drop pattern.

    For independent Bernoulli entries the correlation of two neighbouring slices has standard error
    1 / sqrt(number of pairs), below 0.005 for the checkers' shapes (>= 40,000 pairs), so a limit of 0.1 is more
    than 20 standard errors away; a shared mask has correlation 1.
    """
    leading = {0: [], 1: [_("batch")], 2: [_("batch"), _("head")]}.get(drops.dim() - 3)
    if leading is None:
        leading = [_("leading dimension {number}").format(number=d) for d in range(1, drops.dim() - 2)]
    labels = [*leading, _("query")]  # the dimensions between the first (calls) and the last (keys)
    for dim in range(drops.dim()):
        if drops.shape[dim] < 2:
            continue
        corr = _correlation(drops.narrow(dim, 0, drops.shape[dim] - 1), drops.narrow(dim, 1, drops.shape[dim] - 1))
        if abs(corr) < CORRELATION_LIMIT:
            continue
        if dim == 0:
            _fail(
                _(
                    "Every call of {name} drops (nearly) the same entries: correlation {corr:.2f} between the "
                    "patterns of two calls."
                ).format(name=name, corr=corr),
                _(
                    "A fresh mask must be drawn at every call, from torch's global random number generator "
                    "(torch.rand or torch.bernoulli without a generator). Do not call torch.manual_seed inside "
                    "your function."
                ),
            )
        if dim == drops.dim() - 1:
            _fail(
                _(
                    "{name} drops whole rows: neighbouring keys of a query are dropped together (correlation "
                    "{corr:.2f})."
                ).format(name=name, corr=corr),
                _("{kind} flips an independent coin for every (query, key) entry.").format(kind=kind),
            )
        _fail(
            _(
                "One mask is shared across the {dimension} dimension: neighbouring {dimension} entries have the same "
                "zero pattern (correlation {corr:.2f})."
            ).format(dimension=labels[dim - 1], corr=corr),
            _(
                "{kind} draws its mask with the full shape of the weights (..., N_q, N_k): every sample, head and "
                "query gets its own random keys (notebook 02, Line 2a). A mask of shape (..., 1, N_k) or (N_q, N_k) "
                "broadcast over the other dimensions is a different regulariser (the 'column-wise' variant)."
            ).format(kind=kind),
        )


def _check_drop_fraction(drops: Tensor, drop_ratio: float, kind: str) -> None:
    """drops: bool entries of rows with at least one kept key. Fail unless the number dropped per row varies like a
    binomial and about `drop_ratio` of the entries are dropped.

    The per-row count of independent drops at the observed rate f is Binomial(N_k, f); its sample variance over
    the checkers' R >= 7,000 rows has a relative standard error below 2.5%, and we allow 25% (10 standard errors).
    The fraction of n independent Bernoulli(ratio) entries has standard error sqrt(ratio (1 - ratio) / n); we allow
    Z_LIMIT = 6 of them (false failure 2e-9).
    """
    n = drops.numel()
    fraction = float(drops.float().mean())
    counts = drops.float().sum(-1).flatten()
    expected = drops.shape[-1] * fraction * (1 - fraction)
    variance = float(counts.var())
    if expected > 0 and not 0.75 * expected <= variance <= 1.25 * expected:
        _fail(
            _(
                "The number of dropped keys per row has variance {variance:.2f}; independent drops at this rate give "
                "N_k f (1 - f) = {expected:.2f}."
            ).format(variance=variance, expected=expected),
            _(
                "{kind} flips an independent coin for every (query, key) entry, so the count per row is "
                "Binomial(N_k, ratio). Dropping exactly round(ratio * N_k) keys per row, say, is not the same."
            ).format(kind=kind),
        )
    tolerance = Z_LIMIT * math.sqrt(drop_ratio * (1 - drop_ratio) / n) + 1e-12
    if abs(fraction - drop_ratio) > tolerance:
        if abs(fraction - (1 - drop_ratio)) <= tolerance:
            _fail(
                _("You drop {fraction:.3f} of the entries with ratio {ratio}: that is 1 - ratio.").format(
                    fraction=fraction, ratio=drop_ratio
                ),
                _(
                    "`drop_ratio` is the probability to DROP an entry. `torch.rand(shape) < ratio` (or "
                    "torch.bernoulli(torch.full(shape, ratio))) is True for the dropped entries."
                ),
            )
        _fail(
            _(
                "You drop {fraction:.4f} of the entries, but the ratio is {ratio} (allowed: {ratio} ± "
                "{tolerance:.4f}, {z_limit:g} standard errors over {count:,} entries)."
            ).format(fraction=fraction, ratio=drop_ratio, tolerance=tolerance, z_limit=Z_LIMIT, count=n),
            _("{kind} drops every entry independently with probability exactly `drop_ratio`.").format(kind=kind),
        )
