"""``ChildSpec``: how a supervisor builds a child, and when it restarts it.

Children that talk to each other name their siblings with :func:`sibling`
placeholders among their arguments; the supervisor replaces each one with
that sibling's :class:`~actorfsm.ChildRef`, which reaches the sibling's
current incarnation across restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from actorfsm.fsm import FSM
from actorfsm.messages import Failure, Reason
from actorfsm.supervision.directive import Directive

Restart = Literal["permanent", "transient", "temporary"]
_RESTARTS = ("permanent", "transient", "temporary")


@dataclass(frozen=True, slots=True)
class Sibling:
    """A placeholder in a ``ChildSpec``'s arguments: the ``ChildRef`` of child ``name``."""

    name: str


def sibling(name: str) -> Sibling:
    """Stand for the ``ChildRef`` of sibling ``name`` in ``ChildSpec`` ``args`` or ``kwargs``."""
    if not isinstance(name, str) or not name:
        msg = f"sibling name must be a non-empty str, got {name!r}"
        raise ValueError(msg)
    return Sibling(name)


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to build a child, and when it is restarted.

    ``actor_class`` must be an :class:`~actorfsm.FSM` (a nested supervisor is
    ``ChildSpec(name, Supervisor, args=(strategy, children))``); each
    incarnation is ``actor_class(*args, **kwargs)``, with every
    :func:`sibling` placeholder among them replaced by that sibling's
    ``ChildRef``. ``restart`` is ``"permanent"`` (always restarted, even after
    a normal stop), ``"transient"`` (restarted only after a failure; a normal
    stop or a ``Shutdown`` is final) or ``"temporary"`` (never restarted).
    """

    name: str
    actor_class: type[FSM[Any, Any]]
    args: tuple[object, ...] = ()
    kwargs: Mapping[str, object] = field(default_factory=dict)
    restart: Restart = "permanent"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            msg = f"ChildSpec name must be a non-empty str, got {self.name!r}"
            raise ValueError(msg)
        if not (isinstance(self.actor_class, type) and issubclass(self.actor_class, FSM)):
            msg = (
                f"ChildSpec {self.name!r}: actor_class must be an FSM subclass "
                f"(supervision needs the engine's hooks), got {self.actor_class!r}"
            )
            raise TypeError(msg)
        if self.restart not in _RESTARTS:
            msg = (
                f"ChildSpec {self.name!r}: restart must be one of {_RESTARTS}, got {self.restart!r}"
            )
            raise ValueError(msg)
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "kwargs", dict(self.kwargs))

    def siblings(self) -> tuple[str, ...]:
        """The names of the siblings this spec's arguments stand for."""
        values = (*self.args, *self.kwargs.values())
        return tuple(value.name for value in values if isinstance(value, Sibling))

    def arguments(
        self, resolve: Callable[[str], object]
    ) -> tuple[tuple[object, ...], dict[str, object]]:
        """``args`` and ``kwargs`` with each :func:`sibling` placeholder replaced by
        ``resolve(name)``."""

        def value(item: object) -> object:
            return resolve(item.name) if isinstance(item, Sibling) else item

        args = tuple(value(item) for item in self.args)
        return args, {key: value(item) for key, item in self.kwargs.items()}

    def restarted_after(self, reason: Reason, directive: Directive | None, requested: bool) -> bool:
        """Whether an incarnation that stopped for ``reason`` is replaced by a new one.

        ``requested``: the supervisor stopped it (to restart it with its
        siblings); ``directive``: what the decider said about a failure.
        """
        if self.restart == "temporary":
            return False
        if requested:
            return True
        if isinstance(reason, Failure):
            return directive is Directive.RESTART
        return self.restart == "permanent"
