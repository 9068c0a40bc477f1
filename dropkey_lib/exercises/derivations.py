"""Checkers of the derivation exercises: the smoothing coefficient (03) and the gradient of the toy objective (04)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.overrides import TorchFunctionMode

from ..i18n import _
from ..smoothing import smoothing_coefficients
from ._grading import _call, _checker, _close, _fail, _name, _precision_note

# --------------------------------------------------------------------------------------------------------------
# 03: the smoothing coefficient


@_checker
def check_smoothing_coefficients(
    fn: Callable[[np.ndarray, float], Sequence[float]],
    *,
    sizes: Sequence[int] = (2, 3, 5, 8, 1),
    ratios: Sequence[float] = (0.1, 0.5, 0.9),
    seed: int = 3,
) -> str:
    """Grade `fn(p, ratio) -> c`: the exact smoothing coefficients c_j = (1 - r) E[1 / (p_j + sum_{i != j} m_i p_i)]
    of one attention row p (n,), for n <= 8, as an array (n,).

    Compared with `smoothing.smoothing_coefficients(p, ratio)` to a relative RTOL (float32 sums of up to 128
    patterns stay within it) on 45 rows (n from 1 to 8, ratios 0.1 to 0.9); there is no randomness. `sizes`
    (each at most 8), `ratios` and `seed` choose other rows (the marked version's hidden tests). The answer may
    be any sequence of numbers: a list, a NumPy array or a tensor, in any floating dtype. The wrong answers it
    diagnoses are off by a relative 1e-2 or more in the first case, n = 2 at ratio 0.1.
    """
    name = _name(fn)
    rng = np.random.default_rng(seed)
    for n in sizes:
        for drop_ratio in ratios:
            for concentration in (0.3, 1.0, 5.0):
                p = rng.dirichlet(np.full(n, concentration))
                p = np.maximum(p, 1e-3)
                p /= p.sum()
                answer = _call(fn, p.copy(), drop_ratio)
                try:
                    c = _as_float64(answer)
                except (TypeError, ValueError):
                    _fail(
                        _("{name} returned {type_name}, not numbers.").format(
                            name=name, type_name=type(answer).__name__
                        ),
                        _("Return one c_j per key."),
                    )
                if c.shape != p.shape:
                    _fail(
                        _("{name} returned {count} numbers for a row of {n} keys.").format(
                            name=name, count=c.size, n=n
                        ),
                        _("Return one c_j per key."),
                    )
                exact = smoothing_coefficients(p, drop_ratio)
                if _close(c, exact):
                    continue
                _diagnose_coefficients(c, exact, p, drop_ratio, n)
    return _(
        "Correct: {name} gives the exact smoothing coefficients. Note how the largest weight always gets the "
        "smallest c_j."
    ).format(name=name)


def _as_float64(answer: object) -> np.ndarray:
    """The answer's numbers as a flat float64 array, from a sequence, an array or a tensor (which NumPy cannot
    convert while it requires grad)."""
    if isinstance(answer, Tensor):
        answer = answer.detach().cpu()
    return np.asarray(answer, dtype=np.float64).reshape(-1)


def _numbers(values: np.ndarray) -> str:
    """Numbers with enough digits to show a difference of RTOL."""
    return "[" + ", ".join(f"{v:.10g}" for v in values) + "]"


def _diagnose_coefficients(c: np.ndarray, exact: np.ndarray, p: np.ndarray, drop_ratio: float, n: int) -> None:
    where = _("for p = {p} and ratio {ratio}: yours {yours}, exact {exact}").format(
        p=np.round(p, 3).tolist(), ratio=drop_ratio, yours=_numbers(c), exact=_numbers(exact)
    )
    close = functools.partial(_close, c)
    if close(exact / (1 - drop_ratio)):
        _fail(
            _("Your coefficients are c_j / (1 - r) {where}.").format(where=where),
            _("Key j must itself survive, which happens with probability 1 - r: c_j = (1 - r) E[...]."),
        )
    if close(exact * p):
        _fail(
            _("You return E[p_hat_j] = c_j p_j {where}.").format(where=where),
            _("The coefficient is that expectation divided by p_j."),
        )
    if close(exact + drop_ratio**n / (n * p)):
        _fail(
            _("You count the all-dropped row as uniform {where}.").format(where=where),
            _(
                "c_j is defined with weight 0 for a row without kept keys (all_dropped='zero'); the library's "
                "uniform fallback adds r**n / (n p_j)."
            ),
        )
    if close(np.ones_like(c)):
        _fail(
            _("c_j = 1 for every key {where}.").format(where=where),
            _(
                "That is post-softmax dropout; DropKey renormalises over the kept keys, which gives small keys a "
                "larger share."
            ),
        )
    _fail(
        _("Your coefficients differ {where} (largest relative difference {difference:.2g}).").format(
            where=where, difference=float(np.max(np.abs(c / exact - 1)))
        ),
        _(
            "Enumerate the 2**(n-1) keep patterns m of the other keys (each with probability (1-r)**kept * "
            "r**dropped), average 1 / (p_j + sum of the kept p_i), and multiply by 1 - r."
        )
        + _precision_note(c),
    )


# --------------------------------------------------------------------------------------------------------------
# 04: the gradient of the toy objective


class _AutogradSpy(TorchFunctionMode):
    """Records the autograd entry points that the code run inside it calls: `Tensor.backward`,
    `torch.autograd.backward` and `torch.autograd.grad` (which `torch.func.grad`, `vjp`, `jacrev` and
    `torch.autograd.functional` call too), `requires_grad_` or `requires_grad=True`, and forward-mode dual numbers
    (`torch.func.jvp`, `jacfwd`). Every call goes through unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.used: list[str] = []
        # What the failure message calls each entry point, in the language of the check that creates the spy.
        self.forbidden = {
            torch.Tensor.backward: "Tensor.backward",
            torch.autograd.backward: "torch.autograd.backward",
            torch.autograd.grad: "torch.autograd.grad",
            torch.Tensor.requires_grad_: "requires_grad_",
        }
        if hasattr(torch, "_make_dual"):  # a private name: looked up, so that the library imports without it
            self.forbidden[torch._make_dual] = _("forward-mode dual numbers, torch.func.jvp or jacfwd")

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        what = self.forbidden.get(func)
        if what is None and kwargs.get("requires_grad"):
            what = "requires_grad=True"
        if what is not None and what not in self.used:
            self.used.append(what)
        return func(*args, **kwargs)


def _call_without_autograd(fn: Callable, *args: object) -> object:
    """Call the answer of the 04 exercise, failing when it uses autograd: the exercise asks for the gradient
    derived by hand, and autograd is what the checker compares with."""
    with _AutogradSpy() as spy:
        try:
            answer = _call(fn, *args)
        except AssertionError:
            if not spy.used:
                raise
    if spy.used:
        _fail(
            _("{name} uses autograd ({used}): the exercise asks for the gradient derived by hand.").format(
                name=_name(fn), used=", ".join(spy.used)
            ),
            _(
                "Autograd computes the gradient for you, which is what this checker compares your answer with. Write "
                "the formula of section 2 with tensor operations instead: df/dv_s = p_s (sum_j p_j v_j - y), one row "
                "per value."
            ),
        )
    return answer


@_checker
def check_value_gradients(
    fn: Callable[[Tensor, Tensor, Tensor], Tensor],
    *,
    shapes: Sequence[tuple[int, int]] = ((3, 2), (5, 4), (16, 8)),
    seed: int = 4,
) -> str:
    """Grade `fn(p, values, y) -> gradient`: the gradient of f = 1/2 ||sum_j p_j v_j - y||^2 with respect to every
    value v_j, as an (n, d) tensor, for weights p (n,), values (n, d) and a target y (d,), derived by hand.

    Compared with torch.autograd (float64) for (n, d) = (3, 2), (5, 4) and (16, 8), to a relative RTOL or an
    absolute ATOL times the largest gradient, which a float32 answer meets; there is no randomness beyond the
    fixed inputs. `shapes` and `seed` choose other inputs (the marked version's hidden tests). The answer may be a
    tensor, a NumPy array or nested lists, in any floating dtype; changing the inputs in place is harmless (it gets
    copies). An answer that calls autograd itself (`backward`, `torch.autograd.grad`, `torch.func.grad`, ...;
    see `_AutogradSpy`) fails, however right its numbers. The wrong answers it diagnoses are off by a factor
    (-1, 1 / p_s).
    """
    name = _name(fn)
    generator = torch.Generator().manual_seed(seed)
    for n, d in shapes:
        p = torch.randn(n, generator=generator, dtype=torch.float64).softmax(-1)
        values = torch.randn(n, d, generator=generator, dtype=torch.float64) * 0.1
        y = torch.zeros(d, dtype=torch.float64)
        y[0] = 3.0
        leaf = values.clone().requires_grad_()
        (0.5 * ((p @ leaf) - y).pow(2).sum()).backward()
        exact = leaf.grad
        answer = _call_without_autograd(fn, p.clone(), values.clone(), y.clone())
        if not isinstance(answer, Tensor):
            answer = torch.as_tensor(np.asarray(answer, dtype=np.float64))
        answer = answer.detach().cpu().to(torch.float64)
        if answer.shape != exact.shape:
            _fail(
                _("{name} returned shape {shape}; expected {expected}, one gradient (a d-vector) per value.").format(
                    name=name, shape=tuple(answer.shape), expected=tuple(exact.shape)
                ),
                _("df/dv_s has the shape of v_s, and there are n values."),
            )
        scale = float(exact.abs().max())
        if _close(answer, exact, scale):
            continue
        where = f"(n = {n}, d = {d})"
        if _close(answer, -exact, scale):
            _fail(
                _("Your gradient has the wrong sign {where}.").format(where=where),
                _(
                    "The residual is (output - y) = sum_j p_j v_j - y; gradient descent subtracts the gradient and "
                    "moves the output towards y."
                ),
            )
        if _close(answer, exact / p.unsqueeze(-1), scale):
            _fail(
                _("Your gradient is missing the factor p_s {where}.").format(where=where),
                _(
                    "v_s enters the output as p_s v_s, so the chain rule gives p_s (output - y): every value is "
                    "pushed in proportion to its attention, the start of the rich-get-richer loop."
                ),
            )
        worst = int((answer - exact).abs().argmax())
        _fail(
            _(
                "Your gradient differs from autograd's {where}: largest difference {difference:.3g}, where yours is "
                "{yours:.10g} and autograd's {exact:.10g}."
            ).format(
                where=where,
                difference=float((answer - exact).abs().max()),
                yours=float(answer.flatten()[worst]),
                exact=float(exact.flatten()[worst]),
            ),
            _("df/dv_s = p_s (sum_j p_j v_j - y): one row per value.") + _precision_note(answer),
        )
    return _(
        "Correct: {name} is df/dv_s = p_s (sum_j p_j v_j - y). Every value moves in the same direction, in "
        "proportion to its attention weight."
    ).format(name=name)
