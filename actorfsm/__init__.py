"""actorfsm: Akka's finite-state-machine DSL on pykka actors.

Everything a user programs against is importable from here.
"""

from actorfsm.death_watch import unwatch, watch
from actorfsm.dsl import NextState, goto, stay, stop
from actorfsm.fsm import FSM, FSMError
from actorfsm.messages import (
    CurrentState,
    Event,
    Failure,
    LogEntry,
    Normal,
    Shutdown,
    StateTimeout,
    StopEvent,
    SubscribeTransitionCallBack,
    Terminated,
    Transition,
    UnsubscribeTransitionCallBack,
)

__all__ = [
    "FSM",
    "CurrentState",
    "Event",
    "FSMError",
    "Failure",
    "LogEntry",
    "NextState",
    "Normal",
    "Shutdown",
    "StateTimeout",
    "StopEvent",
    "SubscribeTransitionCallBack",
    "Terminated",
    "Transition",
    "UnsubscribeTransitionCallBack",
    "goto",
    "stay",
    "stop",
    "unwatch",
    "watch",
]
