"""actorfsm: Akka's finite-state-machine DSL on pykka actors.

Everything a user programs against is importable from here.
"""

from actorfsm.death_watch import Terminated, unwatch, watch
from actorfsm.dispatch import PINNED, DispatcherConfig, configure_dispatcher, settle_all
from actorfsm.dsl import NextState, goto, stay, stop
from actorfsm.fsm import FSM, FSMError
from actorfsm.introspection import FSMSnapshot, StateMetrics, diagram, inspect
from actorfsm.listeners import tell_each
from actorfsm.logging_fsm import LogEntry, LoggingFSM
from actorfsm.messages import Event, Failure, Normal, Shutdown, StateTimeout, StopEvent
from actorfsm.subscribers import (
    CurrentState,
    SubscribeTransitionCallBack,
    Transition,
    UnsubscribeTransitionCallBack,
)
from actorfsm.supervision import (
    AllForOne,
    Backoff,
    ChildRef,
    ChildSpec,
    ChildStatus,
    DependencyLost,
    Directive,
    GetChild,
    GetChildStatus,
    Lifecycle,
    LifecycleAlerts,
    OneForOne,
    RestartLimitExceeded,
    Supervisor,
    SupervisorState,
    default_decider,
)

__all__ = [
    "FSM",
    "PINNED",
    "AllForOne",
    "Backoff",
    "ChildRef",
    "ChildSpec",
    "ChildStatus",
    "CurrentState",
    "DependencyLost",
    "Directive",
    "DispatcherConfig",
    "Event",
    "FSMError",
    "FSMSnapshot",
    "Failure",
    "GetChild",
    "GetChildStatus",
    "Lifecycle",
    "LifecycleAlerts",
    "LogEntry",
    "LoggingFSM",
    "NextState",
    "Normal",
    "OneForOne",
    "RestartLimitExceeded",
    "Shutdown",
    "StateMetrics",
    "StateTimeout",
    "StopEvent",
    "SubscribeTransitionCallBack",
    "Supervisor",
    "SupervisorState",
    "Terminated",
    "Transition",
    "UnsubscribeTransitionCallBack",
    "configure_dispatcher",
    "default_decider",
    "diagram",
    "goto",
    "inspect",
    "settle_all",
    "stay",
    "stop",
    "tell_each",
    "unwatch",
    "watch",
]
