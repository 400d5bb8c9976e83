"""Names across the cluster: one small actor on the head node maps names to ``RayRef`` s.

A host claims a name when it starts a named FSM and releases it when the FSM
stops; a name left by a host that died is released by the first look-up that
finds the host gone.
"""

from __future__ import annotations

from typing import Any

import ray

from actorfsm.ray.ref import RayRef

NAMESPACE = "actorfsm"
"""The Ray namespace of actorfsm's own named actors (hosts and the registry)."""


class Registry:
    """The name -> ``RayRef`` table (a Ray actor)."""

    def __init__(self) -> None:
        self._names: dict[str, RayRef] = {}

    async def claim(self, name: str, ref: RayRef) -> RayRef | None:
        """Give ``name`` to ``ref``; return the ref that already holds it, or ``None``."""
        holder = self._names.get(name)
        if holder is not None and holder != ref:
            return holder
        self._names[name] = ref
        return None

    async def release(self, name: str, ref: RayRef) -> None:
        """Free ``name`` if ``ref`` holds it."""
        if self._names.get(name) == ref:
            del self._names[name]

    async def lookup(self, name: str) -> RayRef | None:
        """The ref holding ``name``, or ``None``."""
        return self._names.get(name)


_RegistryActor = ray.remote(Registry)


def registry() -> Any:
    """The registry actor's handle (started on the head node on first use)."""
    return _RegistryActor.options(
        name="registry",
        namespace=NAMESPACE,
        get_if_exists=True,
        lifetime="detached",
        num_cpus=0,
        resources={"node:__internal_head__": 0.001},
    ).remote()
