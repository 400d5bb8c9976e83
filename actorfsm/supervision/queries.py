"""What users ask a supervisor: a child's stable ref and a child's status."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GetChild:
    """Ask a supervisor for the :class:`ChildRef` of child ``name`` (``None`` if unknown)."""

    name: str


@dataclass(frozen=True, slots=True)
class GetChildStatus:
    """Ask a supervisor for the :class:`ChildStatus` of child ``name`` (``None`` if unknown)."""

    name: str
