"""``Ref``: what actorfsm sends to, wherever it takes a reference to an actor.

An FSM's ``FSMRef`` (a pykka ``ActorRef``), a supervisor's ``ChildRef`` and a
test ``Probe``'s ref
all qualify: the framework only ever *tells* them something. Typing refs with
this protocol instead of ``Any`` lets mypy catch a state or a message passed
where a ref belongs.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Ref(Protocol):
    """Anything a message can be told to (``tell`` raises ``ActorDeadError`` if it is dead)."""

    def tell(self, message: object, /) -> None:
        """Send ``message`` without waiting for an answer."""
