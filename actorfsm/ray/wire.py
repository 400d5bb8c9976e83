"""How messages cross processes: pickled once by the sender, with local FSM refs made remote.

An FSM in a host sends ``Transition(self.actor_ref, ...)`` and the like: a
pykka ``ActorRef`` only works in its own process, so the pickler turns the ref
of an FSM this host runs into its :class:`~actorfsm.ray.ref.RayRef`. Any other
local ref (an actor of the driver, a ``ChildRef``) cannot be reached from
another process: pickling it fails at the sender with a clear error, before
anything is sent.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import pykka
from ray import cloudpickle

from actorfsm.ray import hosting
from actorfsm.supervision.child_ref import ChildRef


class LocalRefError(TypeError):
    """A message holds a ref that only works in this process."""


def _reduce_ref(obj: object) -> object:
    """Reduce a local ref as its ``RayRef``, or refuse it; ``NotImplemented`` for the rest."""
    if isinstance(obj, pykka.ActorRef | ChildRef):
        remote = hosting.remote_ref_of(obj)
        if remote is None:
            msg = (
                f"{obj!r} is an actor of this process only; a message to another process "
                "may carry refs of FSMs started with actorfsm.ray.start, not local refs"
            )
            raise LocalRefError(msg)
        return remote.__reduce__()
    return NotImplemented


class _ByValue(Exception):
    """Raised by the fast pickler for what only cloudpickle can send (by value)."""


class _FastPickler(pickle.Pickler):
    """The C pickler: for messages whose classes are importable (nearly all)."""

    def reducer_override(self, obj: object) -> Any:  # pickle's NotImplemented is typed Any
        if isinstance(obj, type) and obj.__module__ == "__main__":
            raise _ByValue  # the other process's __main__ is not this one
        return _reduce_ref(obj)


class _RefPickler(cloudpickle.CloudPickler):
    """Cloudpickle: also for classes and functions defined in ``__main__`` or at run time."""

    def reducer_override(self, obj: object) -> Any:  # pickle's NotImplemented is typed Any
        reduced = _reduce_ref(obj)
        if reduced is not NotImplemented:
            return reduced
        return super().reducer_override(obj)  # type: ignore[no-untyped-call]


def encode(value: object) -> bytes:
    """Pickle ``value`` for another process (``TypeError`` if it holds a local-only ref)."""
    buffer = io.BytesIO()
    try:
        _FastPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        return buffer.getvalue()
    except LocalRefError:
        raise
    except Exception:  # something only cloudpickle can pickle (by value)
        buffer = io.BytesIO()
    try:
        pickler = _RefPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)  # type: ignore[no-untyped-call]
        pickler.dump(value)  # type: ignore[no-untyped-call]
    except LocalRefError:
        raise
    except Exception as exc:
        msg = f"cannot send {value!r:.200} to another process: {exc}"
        raise TypeError(msg) from exc
    return buffer.getvalue()


def decode(payload: bytes) -> object:
    """The value :func:`encode` pickled (its reader narrows it to the shape it expects)."""
    return pickle.loads(payload)
