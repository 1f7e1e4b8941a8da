"""Instance families and the scaling ladder: one GPU → a bigger instance → more instances."""

from __future__ import annotations

from dataclasses import dataclass

from sagescale.specs import InstanceType, instance_types

__all__ = ["Layout", "gpu_families", "ladder"]


@dataclass(frozen=True)
class Layout:
    """``count`` instances of ``instance``, one process per GPU."""

    instance: InstanceType
    count: int
    kind: str

    @property
    def per_host(self) -> int:
        return self.instance.gpus

    @property
    def gpus(self) -> int:
        return self.count * self.instance.gpus

    @property
    def price_per_hour(self) -> float:
        return self.count * self.instance.price_per_hour

    def label(self) -> str:
        return f"{self.count} x {self.instance.name}" if self.count > 1 else self.instance.name


def gpu_families() -> dict[str, list[InstanceType]]:
    """GPU instance types by family (``p3``, ``p3dn``, ``g5`` …), by GPUs then price."""
    out: dict[str, list[InstanceType]] = {}
    for info in instance_types():
        if info.gpus and info.gpu is not None:
            out.setdefault(info.family, []).append(info)
    for members in out.values():
        members.sort(key=lambda i: (i.gpus, i.price_per_hour))
    return out


def _vertical(members: list[InstanceType], start: InstanceType | None) -> list[InstanceType]:
    """The cheapest instance of each GPU count, from ``start`` (or one GPU) upwards."""
    by_gpus: dict[int, InstanceType] = {}
    for info in members:
        by_gpus.setdefault(info.gpus, info)
    if start is not None:
        by_gpus[start.gpus] = start
        return [by_gpus[g] for g in sorted(by_gpus) if g >= start.gpus]
    return [by_gpus[g] for g in sorted(by_gpus)]


def ladder(
    members: list[InstanceType],
    *,
    start: InstanceType | None,
    max_instances: int,
    requested: tuple[InstanceType, int] | None = None,
) -> list[Layout]:
    """Scale vertically first (bigger instances of the family), then horizontally."""
    vertical = _vertical(members, start)
    rungs = [Layout(info, 1, "vertical") for info in vertical]
    rungs[0] = Layout(vertical[0], 1, "start")
    top = vertical[-1]
    count = 2
    while count <= max_instances:
        rungs.append(Layout(top, count, "horizontal"))
        count *= 2
    if requested is not None:
        info, n = requested
        if not any(r.instance == info and r.count == n for r in rungs):
            rungs.append(Layout(info, n, "requested"))
    rungs.sort(key=lambda r: (r.gpus, r.price_per_hour))
    return rungs
