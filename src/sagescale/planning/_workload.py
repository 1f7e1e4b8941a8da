"""What is trained: parameters, activations per sample and FLOPs per sample.

The numbers come from a traced torch model (:mod:`sagescale.planning._trace`), from a
transformer's shape (the activation formula of Korthikanti et al., 2022, "Reducing
Activation Recomputation in Large Transformer Models", without recomputation), or directly
from the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from sagescale.planning._memory import Precision

__all__ = ["Workload", "transformer_activation_bytes", "transformer_workload"]

# GPT-shaped models keep hidden size / layers near 64-128; 64 with heads of 64 dims.
_GPT_ASPECT = 64.0


@dataclass(frozen=True)
class Workload:
    """Per-sample figures of a model's training step.

    ``activation_float_bytes`` is the floating-point part of the activations kept for the
    backward pass, counted at 4 bytes per value (fp32); mixed precision halves it.
    ``activation_other_bytes`` (dropout masks, token ids) does not change with precision.
    ``flops_per_sample`` counts forward and backward (3x the forward).
    """

    params: float
    activation_float_bytes: float
    activation_other_bytes: float
    flops_per_sample: float
    seq_len: int | None
    matrix_side: float
    source: str
    assumptions: tuple[str, ...] = ()

    def activations_per_sample(self, precision: Precision) -> float:
        scale = 1.0 if precision == "fp32" else 0.5
        return self.activation_float_bytes * scale + self.activation_other_bytes


def transformer_activation_bytes(
    seq_len: int, hidden: int, layers: int, heads: int, *, flash_attention: bool = True
) -> tuple[float, float]:
    """Activation bytes per sample of a transformer: ``(float part at fp32, masks)``.

    Korthikanti et al. give ``s*h*L*(34 + 5*a*s/h)`` bytes in 16-bit training: 32*s*h + 4*a*s^2
    of 16-bit values and 2*s*h + a*s^2 one-byte dropout masks per layer. A fused
    (flash / memory-efficient) attention kernel, PyTorch's default on GPUs, keeps none of the
    ``s x s`` score matrices, leaving ``34*s*h`` per layer.
    """
    s, h, a = float(seq_len), float(hidden), float(heads)
    scores = 0.0 if flash_attention else a * s * s
    floats_16bit = layers * (32.0 * s * h + 4.0 * scores)
    masks = layers * (2.0 * s * h + scores)
    return 2.0 * floats_16bit, masks


def _shape(
    params: float, hidden: int | None, layers: int | None, heads: int | None
) -> tuple[int, int, int, str | None]:
    """Fill in a transformer's missing shape from ``params ~ 12 * layers * hidden**2``."""
    note = None
    if hidden is None and layers is None:
        layers = max(1, round((params / (12.0 * _GPT_ASPECT**2)) ** (1.0 / 3.0)))
        hidden = max(64, round(_GPT_ASPECT * layers))
        note = (
            f"transformer shape assumed from the parameter count (GPT-like, "
            f"params ~ 12 x layers x hidden^2): {layers} layers, hidden size {hidden}"
        )
    elif hidden is None:
        assert layers is not None
        hidden = max(64, round((params / (12.0 * layers)) ** 0.5))
        note = f"hidden size {hidden} assumed from params ~ 12 x layers x hidden^2"
    elif layers is None:
        layers = max(1, round(params / (12.0 * hidden * hidden)))
        note = f"{layers} layers assumed from params ~ 12 x layers x hidden^2"
    if heads is None:
        heads = max(1, hidden // 64)
    return hidden, layers, heads, note


def transformer_workload(
    params: float,
    seq_len: int,
    *,
    hidden: int | None = None,
    layers: int | None = None,
    heads: int | None = None,
    flash_attention: bool = True,
) -> Workload:
    """A transformer of ``params`` parameters trained on sequences of ``seq_len`` tokens."""
    hidden, layers, heads, note = _shape(params, hidden, layers, heads)
    floats, masks = transformer_activation_bytes(
        seq_len, hidden, layers, heads, flash_attention=flash_attention
    )
    flops = 6.0 * params * seq_len + 12.0 * layers * seq_len * seq_len * hidden
    notes = [
        "activations from the transformer formula of Korthikanti et al. (2022), "
        "no activation recomputation, "
        + ("fused (flash) attention" if flash_attention else "eager attention (s x s scores kept)")
    ]
    if note:
        notes.append(note)
    return Workload(
        params=params,
        activation_float_bytes=floats,
        activation_other_bytes=masks,
        flops_per_sample=flops,
        seq_len=seq_len,
        matrix_side=float(hidden),
        source="transformer formula",
        assumptions=tuple(notes),
    )


def given_workload(
    params: float,
    *,
    activation_bytes_per_sample: float | None,
    flops_per_sample: float | None,
    seq_len: int | None,
    precision: Precision,
    base: Workload | None,
) -> Workload:
    """Apply the caller's own figures on top of ``base`` (or on a bare parameter count)."""
    notes = list(base.assumptions) if base else []
    floats = base.activation_float_bytes if base else 0.0
    other = base.activation_other_bytes if base else 0.0
    if activation_bytes_per_sample is not None:
        scale = 1.0 if precision == "fp32" else 2.0
        floats, other = activation_bytes_per_sample * scale, 0.0
        notes = [n for n in notes if not n.startswith("activations")]
        notes.append(f"activations per sample given by the caller (at {precision})")
    elif base is None:
        notes.append(
            "activations unknown (give a model and sample_input, activation_bytes_per_sample "
            "or seq_len): counted as 0, so the memory estimate is a lower bound"
        )
    flops = base.flops_per_sample if base else 6.0 * params * (seq_len or 1)
    if flops_per_sample is not None:
        flops = flops_per_sample
    elif base is None:
        notes.append(
            "compute assumes each parameter is used once per sample and token "
            "(6 x params FLOPs); give flops_per_sample or a model for convolutional networks"
        )
    return Workload(
        params=params,
        activation_float_bytes=floats,
        activation_other_bytes=other,
        flops_per_sample=flops,
        seq_len=seq_len,
        matrix_side=base.matrix_side if base else 1024.0,
        source=base.source if base else "given numbers",
        assumptions=tuple(notes),
    )
