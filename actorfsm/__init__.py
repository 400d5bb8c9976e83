"""actorfsm: Akka's finite-state-machine DSL on pykka actors.

Everything a user programs against is importable from here.
"""

from actorfsm.death_watch import Terminated, unwatch, watch
from actorfsm.dispatch import PINNED, DispatcherConfig, configure_dispatcher
from actorfsm.dsl import NextState, goto, stay, stop
from actorfsm.durations import Duration
from actorfsm.fsm import FSM, FSMError
from actorfsm.introspection import FSMSnapshot, StateMetrics, diagram, inspect
from actorfsm.listeners import tell_each
from actorfsm.logging import default_to_stderr
from actorfsm.logging_fsm import LoggingFSM
from actorfsm.messages import Event, Failure, Normal, Shutdown, StateTimeout, StopEvent
from actorfsm.recipient import Ref
from actorfsm.rendering import state_label
from actorfsm.runners import settle_all
from actorfsm.subscribers import (
    CurrentState,
    SubscribeTransitionCallBack,
    Transition,
    UnsubscribeTransitionCallBack,
)
from actorfsm.supervision.backoff import DEPENDENCY_BACKOFF, Backoff
from actorfsm.supervision.budget import RESTART_FLOOR, RestartBudget
from actorfsm.supervision.child_ref import ChildRef, ChildRestarting
from actorfsm.supervision.child_spec import ChildSpec, sibling
from actorfsm.supervision.dependency import DEPENDENCY_ERRORS, DependencyLost, is_dependency_error
from actorfsm.supervision.directive import Decider, Directive, default_decider
from actorfsm.supervision.lifecycle import ChildStatus, Lifecycle, LifecycleAlerts
from actorfsm.supervision.queries import GetChild, GetChildStatus
from actorfsm.supervision.restarts import SupervisorState
from actorfsm.supervision.strategy import (
    AllForOne,
    OneForOne,
    RestartLimitExceeded,
    RestartStrategy,
    RestForOne,
)
from actorfsm.supervision.supervisor import Supervisor
from actorfsm.tracing import LogEntry

__all__ = [
    "DEPENDENCY_BACKOFF",
    "DEPENDENCY_ERRORS",
    "FSM",
    "PINNED",
    "RESTART_FLOOR",
    "AllForOne",
    "Backoff",
    "ChildRef",
    "ChildRestarting",
    "ChildSpec",
    "ChildStatus",
    "CurrentState",
    "Decider",
    "DependencyLost",
    "Directive",
    "DispatcherConfig",
    "Duration",
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
    "Ref",
    "RestForOne",
    "RestartBudget",
    "RestartLimitExceeded",
    "RestartStrategy",
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
    "is_dependency_error",
    "settle_all",
    "sibling",
    "state_label",
    "stay",
    "stop",
    "tell_each",
    "unwatch",
    "watch",
]

default_to_stderr()
