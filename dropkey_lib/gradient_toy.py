"""The gradient argument of DropKey on a toy problem (notebook 04): symbolic derivatives and a small experiment.

The toy objective is 1/2 ||sum_j p_j v_j - y||^2 with sum_j p_j = 1 for one query. `toy_attention_problem` builds its
Lagrangian and partial derivatives in SymPy, with the weights p_j or, for DropKey in expectation, c_j p_j (the
smoothing coefficients of `smoothing.py`). `train_toy_attention` runs gradient descent on it with DropKey (or
post-softmax dropout) sampled for real and records how peaked the attention becomes.

Which parts are the paper's and which are ours is set out in `docs/paper-notes.md` §7.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
import torch

from .analysis import row_entropy
from .attention import dropkey_weights
from .checks import check_drop_ratio, check_positive_int
from .smoothing import one_thread, probability_symbols


@dataclass(frozen=True)
class ToyAttentionProblem:
    """The toy objective of the gradient argument in coordinates where the target direction e is the first axis.

    min over p, v of f = 1/2 || sum_j w_j v_j - y ||**2  subject to  sum_j p_j = 1, p_j >= 0,

    with w_j = p_j (vanilla attention) or w_j = c_j p_j (DropKey in expectation, c_j held fixed). The target is
    y = M e with ||e|| = 1, and every value is split as v_j = beta_j e + alpha_j with alpha_j orthogonal to e:
    in these coordinates v_j = (beta_j, alpha_j1, ..., alpha_j(d-1)). Indices s, t below are 0-based.
    """

    n: int
    dim: int
    p: tuple[sp.Symbol, ...]
    c: tuple[sp.Symbol, ...]
    beta: tuple[sp.Symbol, ...]
    alpha: tuple[tuple[sp.Symbol, ...], ...]
    M: sp.Symbol
    lam: sp.Symbol
    mu: tuple[sp.Symbol, ...]
    e: sp.Matrix = field(repr=False)
    y: sp.Matrix = field(repr=False)
    v: tuple[sp.Matrix, ...] = field(repr=False)

    def alpha_vec(self, j: int) -> sp.Matrix:
        """alpha_j as a d-vector (its first coordinate, along e, is 0)."""
        return sp.Matrix([0, *self.alpha[j]])

    def weights(self, smoothed: bool = False) -> list:
        """w_j = p_j, or c_j p_j when `smoothed`."""
        return [cj * pj for cj, pj in zip(self.c, self.p)] if smoothed else list(self.p)

    def output(self, smoothed: bool = False) -> sp.Matrix:
        """sum_j w_j v_j."""
        return sum((w * vj for w, vj in zip(self.weights(smoothed), self.v)), sp.zeros(self.dim, 1))

    def residual(self, smoothed: bool = False) -> sp.Matrix:
        """sum_j w_j v_j - y."""
        return self.output(smoothed) - self.y

    def objective(self, smoothed: bool = False):
        """f = 1/2 ||sum_j w_j v_j - y||**2."""
        res = self.residual(smoothed)
        return sp.Rational(1, 2) * (res.T * res)[0, 0]

    def lagrangian(self, smoothed: bool = False):
        """L = f + lambda (sum_j p_j - 1) - sum_j mu_j p_j  (KKT multipliers: mu_j >= 0, mu_j p_j = 0)."""
        return (
            self.objective(smoothed)
            + self.lam * (sp.Add(*self.p) - 1)
            - sp.Add(*[mj * pj for mj, pj in zip(self.mu, self.p)])
        )

    def dL_dp(self, s: int, smoothed: bool = False):
        """dL/dp_s by differentiation."""
        return sp.diff(self.lagrangian(smoothed), self.p[s])

    def dL_dv(self, s: int, smoothed: bool = False) -> sp.Matrix:
        """dL/dv_s (a d-vector) by differentiation."""
        lagrangian = self.lagrangian(smoothed)
        return sp.Matrix([sp.diff(lagrangian, comp) for comp in self.v[s]])

    def dL_dbeta(self, s: int, smoothed: bool = False):
        """dL/dbeta_s by differentiation: the push on the part of v_s along the target."""
        return sp.diff(self.lagrangian(smoothed), self.beta[s])

    def gap(self, s: int, t: int, smoothed: bool = False):
        """dL/dp_s - dL/dp_t by differentiation."""
        return self.dL_dp(s, smoothed) - self.dL_dp(t, smoothed)

    # The same quantities written in terms of beta, alpha and M (the form of docs/paper-notes.md §7 and (N14)).

    def fit_along_target(self, smoothed: bool = False):
        """sum_j w_j beta_j - M: how far the output's component along e is from the target (negative: too short)."""
        return sp.Add(*[w * b for w, b in zip(self.weights(smoothed), self.beta)]) - self.M

    def off_target(self, smoothed: bool = False) -> sp.Matrix:
        """sum_j w_j alpha_j: the output's component orthogonal to the target."""
        return sum((w * self.alpha_vec(j) for j, w in enumerate(self.weights(smoothed))), sp.zeros(self.dim, 1))

    def dL_dp_closed_form(self, s: int, smoothed: bool = False):
        """(c_s) [ (sum_j w_j beta_j - M) beta_s + (sum_j w_j alpha_j) . alpha_s ] + lambda - mu_s."""
        scale = self.c[s] if smoothed else 1
        inner = self.fit_along_target(smoothed) * self.beta[s] + (self.off_target(smoothed).T * self.alpha_vec(s))[0, 0]
        return scale * inner + self.lam - self.mu[s]

    def dL_dv_closed_form(self, s: int, smoothed: bool = False) -> sp.Matrix:
        """w_s (sum_j w_j v_j - y): the value of a key is updated in proportion to its weight."""
        return self.weights(smoothed)[s] * self.residual(smoothed)

    def dL_dbeta_closed_form(self, s: int, smoothed: bool = False):
        """w_s (sum_j w_j beta_j - M)."""
        return self.weights(smoothed)[s] * self.fit_along_target(smoothed)

    def gap_closed_form(self, s: int, t: int, smoothed: bool = False):
        """The difference of the closed forms; for vanilla attention
        (sum_j p_j beta_j - M)(beta_s - beta_t) + (sum_j p_j alpha_j) . (alpha_s - alpha_t) - (mu_s - mu_t)."""
        return self.dL_dp_closed_form(s, smoothed) - self.dL_dp_closed_form(t, smoothed)


def toy_attention_problem(n: int = 3, dim: int = 2) -> ToyAttentionProblem:
    """The symbols and vectors of the gradient argument for n keys with d-dimensional values (d >= 2)."""
    check_positive_int(n, "n", minimum=2)
    check_positive_int(dim, "dim", minimum=2)
    p = probability_symbols(n)
    c = probability_symbols(n, "c")
    beta = tuple(sp.Symbol(f"beta_{j}", real=True) for j in range(1, n + 1))
    if dim == 2:
        alpha = tuple((sp.Symbol(f"alpha_{j}", real=True),) for j in range(1, n + 1))
    else:
        alpha = tuple(tuple(sp.Symbol(f"alpha_{j}{k}", real=True) for k in range(1, dim)) for j in range(1, n + 1))
    M = sp.Symbol("M", positive=True)
    lam = sp.Symbol("lambda", real=True)
    mu = tuple(sp.Symbol(f"mu_{j}", nonnegative=True) for j in range(1, n + 1))
    e = sp.Matrix([1] + [0] * (dim - 1))
    v = tuple(sp.Matrix([beta[j], *alpha[j]]) for j in range(n))
    return ToyAttentionProblem(n=n, dim=dim, p=p, c=c, beta=beta, alpha=alpha, M=M, lam=lam, mu=mu, e=e, y=M * e, v=v)


@dataclass
class ToyTrainingHistory:
    """Per-seed curves of one toy training run, each (num_seeds, steps + 1), step 0 being the initialisation."""

    drop_ratio: float
    mode: str
    entropy: np.ndarray  # entropy of softmax(logits), divided by log n (1 = uniform)
    max_weight: np.ndarray  # largest weight of softmax(logits)
    loss: np.ndarray  # the plain (no-drop) objective 1/2 ||softmax(z) @ V - y||^2

    @property
    def steps(self) -> np.ndarray:
        return np.arange(self.entropy.shape[1])

    def seed_mean_and_stderr(self, curve: str) -> tuple[np.ndarray, np.ndarray]:
        """Mean over seeds of `curve` ("entropy", "max_weight" or "loss") and its standard error, std / sqrt(seeds)
        (NumPy's std, ddof 0), each (steps + 1,)."""
        if curve not in ("entropy", "max_weight", "loss"):
            raise ValueError(f"curve must be 'entropy', 'max_weight' or 'loss', got {curve!r}")
        values = getattr(self, curve)
        return values.mean(axis=0), values.std(axis=0) / np.sqrt(values.shape[0])


def train_toy_attention(
    drop_ratio: float,
    *,
    mode: str = "dropkey",
    num_keys: int = 16,
    dim: int = 8,
    target_norm: float = 3.0,
    steps: int = 300,
    lr: float = 0.1,
    value_init: float = 0.01,
    logit_init: float = 0.5,
    draws: int = 8,
    num_seeds: int = 20,
    seed: int = 0,
) -> ToyTrainingHistory:
    """Gradient descent on 1/2 ||sum_j w_j v_j - y||^2 over the logits z and the values v of one query.

    w = softmax(z) for ratio = 0; otherwise, with a fresh mask at every step (`draws` masks per step, loss averaged
    over them), w = `dropkey_weights(z, ratio)` (`mode="dropkey"`) or classic post-softmax dropout
    w = m * softmax(z) / (1 - ratio) (`mode="dropout"`). The target is y = target_norm * e_1; values start small
    (std `value_init`, so |beta_j| << M as the gradient argument assumes) and logits start near uniform
    (std `logit_init`). `num_seeds` independent problems run side by side; the initialisation depends on `seed`
    only, so every ratio starts from the same problems. Returns the curves of the clean attention softmax(z).
    """
    drop_ratio = check_drop_ratio(drop_ratio)
    if mode not in ("dropkey", "dropout"):
        raise ValueError(f"regulariser must be 'dropkey' or 'dropout', got {mode!r}")
    init_gen = torch.Generator().manual_seed(seed)
    mask_gen = torch.Generator().manual_seed(seed + 1)
    logits = torch.randn(num_seeds, num_keys, generator=init_gen, dtype=torch.float64) * logit_init
    values = torch.randn(num_seeds, num_keys, dim, generator=init_gen, dtype=torch.float64) * value_init
    logits.requires_grad_()
    values.requires_grad_()
    target = torch.zeros(dim, dtype=torch.float64)
    target[0] = target_norm
    log_n = math.log(num_keys)

    entropies, max_weights, losses = [], [], []

    def record() -> None:
        with torch.no_grad():
            probs = logits.softmax(dim=-1)
            entropies.append((row_entropy(probs) / log_n).numpy().copy())
            max_weights.append(probs.max(dim=-1).values.numpy().copy())
            losses.append((0.5 * ((probs.unsqueeze(-2) @ values).squeeze(-2) - target).pow(2).sum(-1)).numpy().copy())

    record()
    with one_thread():
        for _ in range(steps):
            if drop_ratio > 0 and mode == "dropkey":
                weights = dropkey_weights(
                    logits.unsqueeze(1).expand(num_seeds, draws, num_keys), drop_ratio, generator=mask_gen
                )
            elif drop_ratio > 0:
                keep = torch.rand(num_seeds, draws, num_keys, generator=mask_gen, dtype=torch.float64) >= drop_ratio
                weights = logits.softmax(dim=-1).unsqueeze(1) * keep / (1.0 - drop_ratio)
            else:
                weights = logits.softmax(dim=-1).unsqueeze(1)
            outputs = weights @ values  # (seeds, draws, dim)
            loss = 0.5 * (outputs - target).pow(2).sum(-1).mean(-1).sum()
            grad_logits, grad_values = torch.autograd.grad(loss, (logits, values))
            with torch.no_grad():
                logits -= lr * grad_logits
                values -= lr * grad_values
            record()
    return ToyTrainingHistory(
        drop_ratio=drop_ratio,
        mode=mode if drop_ratio > 0 else "none",
        entropy=np.stack(entropies, axis=1),
        max_weight=np.stack(max_weights, axis=1),
        loss=np.stack(losses, axis=1),
    )
