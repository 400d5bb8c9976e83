"""actorfsm: Akka's finite-state-machine DSL on pykka actors.

Everything a user programs against is importable from here.
"""

from actorfsm.death_watch import Terminated, unwatch, watch
from actorfsm.dsl import NextState, goto, stay, stop
from actorfsm.fsm import FSM, FSMError
from actorfsm.introspection import FSMSnapshot, StateMetrics, diagram, inspect
from actorfsm.logging_fsm import LogEntry, LoggingFSM
from actorfsm.messages import Event, Failure, Normal, Shutdown, StateTimeout, StopEvent
from actorfsm.subscribers import (
    CurrentState,
    SubscribeTransitionCallBack,
    Transition,
    UnsubscribeTransitionCallBack,
)

__all__ = [
    "FSM",
    "CurrentState",
    "Event",
    "FSMError",
    "FSMSnapshot",
    "Failure",
    "LogEntry",
    "LoggingFSM",
    "NextState",
    "Normal",
    "Shutdown",
    "StateMetrics",
    "StateTimeout",
    "StopEvent",
    "SubscribeTransitionCallBack",
    "Terminated",
    "Transition",
    "UnsubscribeTransitionCallBack",
    "diagram",
    "goto",
    "inspect",
    "stay",
    "stop",
    "unwatch",
    "watch",
]
