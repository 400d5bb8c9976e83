"""Supervision: supervisors that restart failed FSM actors within limits and with backoff.

A :class:`~actorfsm.Supervisor` starts its children from
:class:`~actorfsm.ChildSpec` s, watches them, and restarts them as its
strategy says (:class:`~actorfsm.OneForOne`, :class:`~actorfsm.AllForOne`,
:class:`~actorfsm.RestForOne`), within a restart budget and after a backoff.
The modules, one idea each:

- ``directive``: what to do with a failure (``Directive``, deciders);
- ``dependency``: the failures of a lost dependency, which always back off;
- ``backoff`` and ``budget``: the waits and the restart accounting;
- ``strategy`` and ``child_spec``: the configuration a user writes;
- ``protocol``: what a child says to its supervisor (started, failed, forward);
- ``child_ref``: the stable reference to a child across its restarts;
- ``lifecycle``, ``reporter``, ``streak_log``: what is monitored and logged;
- ``children``, ``restarts``, ``shutdown``, ``supervisor``: the supervisor itself.

The public names are those of :mod:`actorfsm`; this package re-exports the
same objects for programs that import them from here.
"""

from actorfsm.death_watch import Terminated as Terminated
from actorfsm.death_watch import unwatch as unwatch
from actorfsm.death_watch import watch as watch
from actorfsm.supervision.backoff import DEPENDENCY_BACKOFF as DEPENDENCY_BACKOFF
from actorfsm.supervision.backoff import Backoff as Backoff
from actorfsm.supervision.budget import RESTART_FLOOR as RESTART_FLOOR
from actorfsm.supervision.budget import RestartBudget as RestartBudget
from actorfsm.supervision.child_ref import ChildRef as ChildRef
from actorfsm.supervision.child_ref import ChildRestarting as ChildRestarting
from actorfsm.supervision.child_spec import ChildSpec as ChildSpec
from actorfsm.supervision.child_spec import sibling as sibling
from actorfsm.supervision.dependency import DEPENDENCY_ERRORS as DEPENDENCY_ERRORS
from actorfsm.supervision.dependency import DependencyLost as DependencyLost
from actorfsm.supervision.dependency import is_dependency_error as is_dependency_error
from actorfsm.supervision.directive import Decider as Decider
from actorfsm.supervision.directive import Directive as Directive
from actorfsm.supervision.directive import default_decider as default_decider
from actorfsm.supervision.lifecycle import ChildStatus as ChildStatus
from actorfsm.supervision.lifecycle import Lifecycle as Lifecycle
from actorfsm.supervision.lifecycle import LifecycleAlerts as LifecycleAlerts
from actorfsm.supervision.queries import GetChild as GetChild
from actorfsm.supervision.queries import GetChildStatus as GetChildStatus
from actorfsm.supervision.restarts import SupervisorState as SupervisorState
from actorfsm.supervision.strategy import AllForOne as AllForOne
from actorfsm.supervision.strategy import OneForOne as OneForOne
from actorfsm.supervision.strategy import RestartLimitExceeded as RestartLimitExceeded
from actorfsm.supervision.strategy import RestartStrategy as RestartStrategy
from actorfsm.supervision.strategy import RestForOne as RestForOne
from actorfsm.supervision.supervisor import Supervisor as Supervisor
