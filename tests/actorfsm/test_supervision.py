"""Supervisors: strategies, directives, restart types, limits, nesting, give-up, faults."""

from __future__ import annotations

import ast
import enum
import inspect
import textwrap
from typing import Any

import pykka
import pytest
from structlog.testing import capture_logs

from actorfsm import FSM, Event, Failure, Normal, Shutdown, StopEvent, stay, stop
from actorfsm.supervision import (
    RESTART_FLOOR,
    AllForOne,
    Backoff,
    ChildRef,
    ChildSpec,
    ChildStatus,
    Directive,
    GetChild,
    GetChildStatus,
    Lifecycle,
    OneForOne,
    RestartLimitExceeded,
    Supervisor,
    Terminated,
    default_decider,
)
from actorfsm.testing import Probe, VirtualClock, settle

pytestmark = pytest.mark.timeout(20)


class S(enum.Enum):
    UP = 1


class Boom(Exception):
    pass


class Worker(FSM[S, int]):
    """Counts messages in its data, raises what it is told to, tells the probe its life."""

    def __init__(self, probe: Any, tag: str, start_failures: list[str] | None = None) -> None:
        super().__init__()
        self.probe = probe
        self.tag = tag
        self.start_failures = start_failures
        if self._next_failure("constructor"):
            raise Boom(f"{tag} constructor")
        self.start_with(S.UP, 0)
        self.when(S.UP, self.up)
        self.on_termination(self.terminated)

    def _next_failure(self, where: str) -> bool:
        plan = self.start_failures
        if plan and plan[0] == where:
            plan.pop(0)
            return True
        return False

    def on_start(self) -> None:
        if self._next_failure("on_start"):
            raise Boom(f"{self.tag} on_start")
        self.probe.tell(("started", self.tag))

    def up(self, event: Event) -> Any:
        match event:
            case Event(("raise", error_type, text), _):
                raise error_type(text)
            case Event("count", n):
                return stay().replying(n)
            case Event("stop", _):
                return stop()
            case Event(_, n):
                return stay().using(n + 1)
        return None

    def terminated(self, stop_event: StopEvent) -> None:
        self.probe.tell(("stopped", self.tag, stop_event.reason))


def spec(probe: Probe, tag: str, **kwargs: Any) -> ChildSpec:
    return ChildSpec(tag, Worker, args=(probe.ref, tag), **kwargs)


def start(probe: Probe, strategy: Any, tags: str = "abc", **kwargs: Any) -> pykka.ActorRef[Any]:
    """Start a supervisor of Workers and wait until each child has started."""
    sup = Supervisor.start(strategy, [spec(probe, tag) for tag in tags], **kwargs)
    for tag in tags:
        probe.expect_msg(("started", tag))
    for tag in tags:
        running_status(sup, tag)
    return sup


def child(sup: pykka.ActorRef[Any], name: str) -> ChildRef:
    ref = sup.ask(GetChild(name))
    assert isinstance(ref, ChildRef)
    return ref


def running_status(sup: pykka.ActorRef[Any], name: str) -> ChildStatus:
    """The child's status once the supervisor has seen its current incarnation run."""
    incarnation = child(sup, name).current()
    assert incarnation is not None
    settle(incarnation)  # it answered the supervisor's start-up watch before this
    status = sup.ask(GetChildStatus(name))
    assert isinstance(status, ChildStatus)
    return status


def probe_cause(sup: pykka.ActorRef[Any], name: str) -> Any:
    return sup.ask(GetChildStatus(name)).last_failure


def expect_failure(probe: Probe, tag: str, error_type: type[BaseException]) -> BaseException:
    message = probe.receive()
    assert message[:2] == ("stopped", tag), message
    assert isinstance(message[2], Failure)
    assert isinstance(message[2].cause, error_type)
    return message[2].cause  # type: ignore[no-any-return]


def test_one_for_one_restarts_only_the_failed_child(probe: Probe) -> None:
    sup = start(probe, OneForOne(), "ab")
    a, b = child(sup, "a"), child(sup, "b")
    b.tell("x")
    b.tell("y")
    first_b = b.current()
    a.tell(("raise", Boom, "a broke"))
    expect_failure(probe, "a", Boom)
    probe.expect_msg(("started", "a"))
    assert a.ask("count") == 0
    assert b.ask("count") == 2
    assert b.current() is first_b
    assert sup.ask(GetChildStatus("a")).restarts == 1
    assert sup.ask(GetChildStatus("b")).restarts == 0


def test_all_for_one_restarts_all_children_in_start_order(probe: Probe) -> None:
    sup = start(probe, AllForOne(), "abc")
    b = child(sup, "b")
    child(sup, "a").tell("x")
    b.tell(("raise", Boom, "b broke"))
    expect_failure(probe, "b", Boom)
    # The others stop one at a time in reverse start order, then all start in order.
    probe.expect_msg(("stopped", "c", Shutdown()))
    probe.expect_msg(("stopped", "a", Shutdown()))
    for tag in "abc":
        probe.expect_msg(("started", tag))
    assert child(sup, "a").ask("count") == 0
    assert [sup.ask(GetChildStatus(tag)).restarts for tag in "abc"] == [1, 1, 1]


def test_the_restart_limit_stops_children_in_reverse_order_and_fails_the_supervisor(
    probe: Probe,
) -> None:
    gave_up = Probe()
    sup = start(probe, OneForOne(max_restarts=2, within=60), "abc", on_give_up=gave_up.ref.tell)
    probe.watch(sup)
    b = child(sup, "b")
    for restart in (1, 2):
        b.tell(("raise", Boom, f"b broke {restart}"))
        expect_failure(probe, "b", Boom)
        probe.expect_msg(("started", "b"))  # max_restarts=2 allows two restarts
    b.tell(("raise", Boom, "b broke 3"))
    expect_failure(probe, "b", Boom)
    probe.expect_msg(("stopped", "c", Shutdown()))
    probe.expect_msg(("stopped", "a", Shutdown()))
    terminated = probe.expect_terminated(sup)
    assert isinstance(terminated.reason, Failure)
    limit = terminated.reason.cause
    assert isinstance(limit, RestartLimitExceeded)
    assert (limit.child, limit.max_restarts, limit.within) == ("b", 2, 60.0)
    assert str(limit.cause) == "b broke 3"
    assert gave_up.expect_msg_type(Failure) == terminated.reason
    assert not b.is_alive()


def test_all_for_one_counts_restarts_per_supervisor(probe: Probe) -> None:
    sup = start(probe, AllForOne(max_restarts=1), "ab", on_give_up=lambda reason: None)
    probe.watch(sup)
    child(sup, "a").tell(("raise", Boom, "a broke"))
    expect_failure(probe, "a", Boom)
    probe.expect_msg(("stopped", "b", Shutdown()))
    probe.expect_msg(("started", "a"))
    probe.expect_msg(("started", "b"))
    child(sup, "b").tell(("raise", Boom, "b broke"))  # another child, but the same budget
    expect_failure(probe, "b", Boom)
    probe.expect_msg(("stopped", "a", Shutdown()))
    assert isinstance(probe.expect_terminated(sup).reason.cause, RestartLimitExceeded)


def test_resume_keeps_the_state_and_drops_the_failing_message(probe: Probe) -> None:
    sup = start(probe, OneForOne(decider=lambda exc: Directive.RESUME), "a")
    a = child(sup, "a")
    incarnation = a.current()
    a.tell("x")
    a.tell("y")
    with capture_logs() as logs:
        with pytest.raises(Boom, match="oops"):
            a.ask(("raise", Boom, "oops"))
        status = sup.ask(GetChildStatus("a"))  # the report reached it before the asker's error
    assert a.ask("count") == 2
    assert a.current() is incarnation
    assert (status.state, status.restarts, status.errors) == (Lifecycle.RUNNING, 0, 1)
    failed = [e for e in logs if e["event"] == "fsm_failed"]
    assert [(e["directive"], e["fsm_event"]) for e in failed] == [
        ("resume", repr(("raise", Boom, "oops")))
    ]


def test_stop_directive_stops_only_that_child_for_good(probe: Probe) -> None:
    sup = start(probe, OneForOne(decider=lambda exc: Directive.STOP), "ab")
    a, b = child(sup, "a"), child(sup, "b")
    probe.watch(a)  # a ChildRef's Terminated comes when it is stopped for good
    a.tell(("raise", Boom, "a broke"))
    expect_failure(probe, "a", Boom)
    assert probe.expect_terminated(a).reason == Failure(a_cause := probe_cause(sup, "a"))
    assert isinstance(a_cause, Boom)
    assert not a.is_alive()
    assert sup.ask(GetChildStatus("a")).state is Lifecycle.STOPPED
    assert b.ask("count") == 0
    assert sup.is_alive()


@pytest.mark.parametrize(
    ("restart", "how", "restarted"),
    [
        ("permanent", "stop", True),
        ("permanent", "raise", True),
        ("transient", "stop", False),
        ("transient", "shutdown", False),
        ("transient", "raise", True),
        ("temporary", "raise", False),
        ("temporary", "stop", False),
    ],
)
def test_restart_types_behave_as_named(
    probe: Probe, restart: str, how: str, restarted: bool
) -> None:
    sup = Supervisor.start(OneForOne(), [spec(probe, "a", restart=restart)])
    probe.expect_msg(("started", "a"))
    a = child(sup, "a")
    watcher = Probe()
    watcher.watch(a)
    if how == "stop":
        a.tell("stop")
        probe.expect_msg(("stopped", "a", Normal()))
    elif how == "shutdown":
        incarnation = a.current()
        assert incarnation is not None
        incarnation.stop()
        probe.expect_msg(("stopped", "a", Shutdown()))
    else:
        a.tell(("raise", Boom, "a broke"))
        expect_failure(probe, "a", Boom)
    if restarted:
        probe.expect_msg(("started", "a"))
        assert a.ask("count") == 0
    else:
        watcher.expect_terminated(a)
        probe.expect_no_msg(0.1)
        assert not a.is_alive()
        assert sup.ask(GetChildStatus("a")).state is Lifecycle.STOPPED
    assert sup.is_alive()


def test_nested_escalation_reaches_the_top_and_on_give_up_once_logged(probe: Probe) -> None:
    def escalate(exc: BaseException) -> Directive:
        return Directive.ESCALATE

    gave_up = Probe()
    inner = ChildSpec("inner", Supervisor, args=(OneForOne(decider=escalate), [spec(probe, "a")]))
    with capture_logs() as logs:
        top = Supervisor.start(OneForOne(decider=escalate), [inner], on_give_up=gave_up.ref.tell)
        probe.expect_msg(("started", "a"))
        probe.watch(top)
        a = child(top, "inner").ask(GetChild("a"))
        a.tell(("raise", Boom, "deep"))
        cause = expect_failure(probe, "a", Boom)
        reason = gave_up.expect_msg_type(Failure)
        assert reason.cause is cause
        assert probe.expect_terminated(top).reason == reason
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in errors] == ["fsm_failed"]  # one report, not one per layer


def test_a_nested_supervisor_that_gives_up_is_restarted_by_its_parent(probe: Probe) -> None:
    inner = ChildSpec("inner", Supervisor, args=(OneForOne(max_restarts=0), [spec(probe, "a")]))
    top = Supervisor.start(OneForOne(), [inner])
    probe.expect_msg(("started", "a"))
    inner_ref = child(top, "inner")
    old_a = inner_ref.ask(GetChild("a"))
    with capture_logs() as logs:
        old_a.tell(("raise", Boom, "leaf broke"))
        expect_failure(probe, "a", Boom)
        probe.expect_msg(("started", "a"))  # a new inner supervisor, with a new leaf
        new_a = inner_ref.ask(GetChild("a"))
    assert new_a is not old_a
    assert not old_a.is_alive()
    assert new_a.ask("count") == 0
    assert top.ask(GetChildStatus("inner")).restarts == 1
    failed = [(e["child"], e["fsm_event"] is None) for e in logs if e["event"] == "fsm_failed"]
    assert failed == [("a", False), ("inner", True)]  # the leaf's failure, then inner's give-up


@pytest.mark.parametrize(
    ("decider", "event"),
    [
        (lambda exc: 1 / 0, "decider_failed"),
        (lambda exc: "restart", "decider_invalid"),
    ],
)
def test_a_broken_decider_escalates_with_a_clear_log_line(
    probe: Probe, decider: Any, event: str
) -> None:
    gave_up = Probe()
    with capture_logs() as logs:
        sup = start(probe, OneForOne(decider=decider), "a", on_give_up=gave_up.ref.tell)
        child(sup, "a").tell(("raise", Boom, "a broke"))
        expect_failure(probe, "a", Boom)
        assert isinstance(gave_up.expect_msg_type(Failure).cause, Boom)
    lines = [e for e in logs if e["event"] == event]
    assert len(lines) == 1
    assert lines[0]["log_level"] == "error"
    assert (lines[0]["child"], lines[0]["directive"]) == ("a", "escalate")


@pytest.mark.parametrize("where", ["constructor", "on_start"])
def test_a_child_that_fails_to_start_is_restarted(probe: Probe, where: str) -> None:
    plan = [where, where]
    with capture_logs() as logs:
        sup = Supervisor.start(OneForOne(), [ChildSpec("a", Worker, (probe.ref, "a", plan))])
        if where == "on_start":  # on_termination runs for those, not for constructors
            expect_failure(probe, "a", Boom)
            expect_failure(probe, "a", Boom)
        probe.expect_msg(("started", "a"))
        status = running_status(sup, "a")
        assert [e["event"] for e in logs if e["log_level"] == "error"] == ["fsm_failed"]
        sup.stop()  # ends the streak: summarised once
    assert (status.state, status.restarts, status.errors) == (Lifecycle.RUNNING, 2, 2)
    assert str(status.last_failure) == f"a {where}"
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in errors] == ["fsm_failed", "failure_repeated"]
    assert (errors[1]["count"], errors[1]["failure"]) == (2, f"Boom: a {where}")


def test_the_supervisor_reports_a_failure_once_with_the_childs_fields(probe: Probe) -> None:
    sup = start(probe, OneForOne(), "a")
    a = child(sup, "a")
    a.tell("x")
    with capture_logs() as logs:
        a.tell(("raise", Boom, "a broke"))
        expect_failure(probe, "a", Boom)
        probe.expect_msg(("started", "a"))
    (report,) = [e for e in logs if e["event"] == "fsm_failed"]
    assert report["log_level"] == "error"
    assert report["child"] == "a"
    assert report["directive"] == "restart"
    assert "Worker" in report["actor"]
    assert report["data"] == "1"
    assert report["state"] == repr(S.UP)
    assert report["fsm_event"] == repr(("raise", Boom, "a broke"))
    assert report["exc_info"][0] is Boom
    assert "Supervisor" in report["supervisor"]


def test_a_streak_ends_with_its_summary_when_another_failure_comes(probe: Probe) -> None:
    sup = start(probe, OneForOne(max_restarts=10), "a")
    a = child(sup, "a")
    with capture_logs() as logs:
        for error_type, text in [(Boom, "same")] * 3 + [(KeyError, "other")]:
            a.tell(("raise", error_type, text))
            expect_failure(probe, "a", error_type)
            probe.expect_msg(("started", "a"))
        sup.ask(GetChildStatus("a"))
    errors = [(e["event"], e.get("count")) for e in logs if e["log_level"] == "error"]
    assert errors == [("fsm_failed", None), ("failure_repeated", 3), ("fsm_failed", None)]


def test_a_streak_ends_when_the_child_has_run_long_enough(
    probe: Probe, virtual_clock: VirtualClock
) -> None:
    sup = start(probe, OneForOne(max_restarts=10, within=30.0), "a")
    a = child(sup, "a")
    with capture_logs() as logs:
        for _ in range(2):
            virtual_clock.advance(RESTART_FLOOR)  # ran long enough to be restarted at once
            a.tell(("raise", Boom, "same"))
            expect_failure(probe, "a", Boom)
            probe.expect_msg(("started", "a"))
        running_status(sup, "a")
        virtual_clock.advance(29.0)
        assert [e["event"] for e in logs if e["log_level"] == "error"] == ["fsm_failed"]
        virtual_clock.advance(1.0)  # ran `within` seconds (no backoff) without failing
    summaries = [e for e in logs if e["event"] == "failure_repeated"]
    assert [e["count"] for e in summaries] == [2]


def test_a_top_level_give_up_is_logged_once_by_default(probe: Probe) -> None:
    with capture_logs() as logs:
        sup = start(probe, OneForOne(max_restarts=0), "a")
        probe.watch(sup)
        child(sup, "a").tell(("raise", Boom, "a broke"))
        expect_failure(probe, "a", Boom)
        probe.expect_terminated(sup)
    errors = [e["event"] for e in logs if e["log_level"] == "error"]
    assert errors == ["fsm_failed", "supervisor_gave_up"]


def test_stopping_the_supervisor_stops_children_in_reverse_order(probe: Probe) -> None:
    gave_up = Probe()
    sup = start(probe, OneForOne(), "abc", on_give_up=gave_up.ref.tell)
    a = child(sup, "a")
    sup.stop()
    for tag in "cba":
        probe.expect_msg(("stopped", tag, Shutdown()))
    assert not a.is_alive()
    assert sup.is_alive() is False
    gave_up.expect_no_msg(0.1)


def test_stop_all_ends_a_nested_tree_without_dead_letters_or_a_give_up(probe: Probe) -> None:
    """pykka stops the newest actors first: children, then their supervisors."""
    gave_up: list[Failure] = []
    inner = ChildSpec("inner", Supervisor, args=(AllForOne(), [spec(probe, t) for t in "ab"]))
    Supervisor.start(OneForOne(), [inner, spec(probe, "c")], on_give_up=gave_up.append)
    assert {probe.receive()[1] for _ in range(3)} == {"a", "b", "c"}
    with capture_logs() as logs:
        pykka.ActorRegistry.stop_all()
    assert pykka.ActorRegistry.get_all() == []
    assert gave_up == []
    assert [e["event"] for e in logs if e["log_level"] in ("error", "warning")] == []


def test_unknown_children_are_answered_with_none(probe: Probe) -> None:
    sup = start(probe, OneForOne(), "a")
    assert sup.ask(GetChild("nobody")) is None
    assert sup.ask(GetChildStatus("nobody")) is None


def test_a_keyboard_interrupt_escalates_to_on_give_up_and_spares_other_actors(
    probe: Probe,
) -> None:
    bystander = Worker.start(probe.ref, "bystander")
    probe.expect_msg(("started", "bystander"))
    gave_up = Probe()
    sup = start(probe, OneForOne(), "ab", on_give_up=gave_up.ref.tell)
    child(sup, "a").tell(("raise", KeyboardInterrupt, "ctrl-c"))
    expect_failure(probe, "a", KeyboardInterrupt)
    probe.expect_msg(("stopped", "b", Shutdown()))  # the tree stops in order
    assert isinstance(gave_up.expect_msg_type(Failure).cause, KeyboardInterrupt)
    assert default_decider(KeyboardInterrupt()) is Directive.ESCALATE
    bystander.tell("x")
    assert bystander.ask("count") == 1  # pykka's "stop every actor" did not happen


@pytest.mark.parametrize("error_type", [KeyboardInterrupt, SystemExit])
def test_a_decider_may_restart_a_child_after_a_base_exception(
    probe: Probe, error_type: type[BaseException]
) -> None:
    sup = start(probe, OneForOne(decider=lambda exc: Directive.RESTART), "ab")
    b = child(sup, "b")
    b.tell("x")
    child(sup, "a").tell(("raise", error_type, "leave"))
    expect_failure(probe, "a", error_type)
    probe.expect_msg(("started", "a"))
    assert b.ask("count") == 1
    assert sup.is_alive()


def test_default_decider_restarts_exceptions() -> None:
    assert default_decider(ValueError()) is Directive.RESTART
    assert default_decider(BrokenPipeError()) is Directive.RESTART
    assert default_decider(SystemExit()) is Directive.ESCALATE


@pytest.mark.parametrize(
    "make",
    [
        lambda: OneForOne(max_restarts=-1),
        lambda: AllForOne(within=0),
        lambda: OneForOne(within=-1.0),
        lambda: Backoff(min=2.0, max=1.0),
        lambda: ChildSpec("", Worker),
        lambda: ChildSpec("a", Worker, restart="sometimes"),  # type: ignore[arg-type]
    ],
)
def test_bad_configuration_is_a_value_error_at_construction(make: Any) -> None:
    with pytest.raises(ValueError):
        make()


def test_bad_types_and_duplicate_names_are_refused_at_start(probe: Probe) -> None:
    with pytest.raises(TypeError, match="FSM subclass"):
        ChildSpec("a", pykka.ThreadingActor)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="strategy"):
        Supervisor.start("one for one", [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="two children are named 'a'"):
        Supervisor.start(OneForOne(), [spec(probe, "a"), spec(probe, "a")])


def test_watching_a_supervisor_tells_how_it_ended(probe: Probe) -> None:
    sup = start(probe, OneForOne(), "a")
    probe.watch(sup)
    sup.stop()
    probe.expect_msg(("stopped", "a", Shutdown()))
    assert probe.expect_msg_type(Terminated).reason == Shutdown()


def test_the_supervisor_shadows_no_engine_attribute() -> None:
    """The engine is edited alongside: a Supervisor name that shadows an FSM one breaks both."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(Supervisor)))
    assigned = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
        and isinstance(node.ctx, ast.Store)
    }
    methods = {name for name in vars(Supervisor) if not name.startswith(("__", "_abc"))}
    engine = set(dir(FSM)) | set(vars(FSM()))
    # on_start is a pykka hook; reports_own_failures is meant to be overridden.
    assert (assigned | methods) & engine == {"on_start", "reports_own_failures"}
