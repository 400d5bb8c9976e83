"""The observer's HTTP server: the page, its JSON, a server-sent event stream, ``/metrics``.

It is the standard library's ``ThreadingHTTPServer`` on a thread of its own: no
event loop to share with the program, no dependency, and one thread per open
page is what an event stream needs (a few pages, not thousands). It listens on
127.0.0.1 unless told otherwise and is read-only; the two actions (stop an FSM,
restart a supervised child) exist only when a token was given to :func:`serve`,
and every action request must carry it as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import json
import threading
import weakref
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import structlog

from actorfsm import census
from actorfsm.fsm import FSM
from actorfsm.observer import views
from actorfsm.supervision import Supervisor

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = structlog.get_logger("actorfsm.observer")

STREAM_INTERVAL = 0.5
"""How often the event stream looks for changes to push, in seconds."""
KEEPALIVE_EVERY = 30
"""Intervals between comment lines that keep an idle stream open through proxies."""

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/observer.js": ("observer.js", "text/javascript; charset=utf-8"),
    "/observer.css": ("observer.css", "text/css; charset=utf-8"),
}


class ObserverServer:
    """A running observer: ``url`` to open, ``stop()`` to end it (the threads end with it)."""

    def __init__(
        self, host: str, port: int, actions_token: str | None, registry: CollectorRegistry | None
    ) -> None:
        if actions_token is not None and (not isinstance(actions_token, str) or not actions_token):
            msg = "actions_token must be a non-empty string (or None: read-only)"
            raise ValueError(msg)
        self.actions_token = actions_token
        self.registry = registry
        self.on_stop: Callable[[], None] | None = None
        """Called once the server has stopped (``serve`` turns off metrics it turned on)."""
        self.stopping = threading.Event()
        self._httpd = _HTTPServer((host, port), _Handler, self)
        bound_host, bound_port = (str(part) for part in self._httpd.server_address[:2])
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}/"
        """The page's address (with the port chosen when ``port=0``)."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="actorfsm-observer", daemon=True
        )
        self._thread.start()
        log.info("observer_started", url=self.url, actions=actions_token is not None)

    def stop(self) -> None:
        """Stop serving: open event streams end, the listening socket is closed."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
        if self.on_stop is not None:
            self.on_stop()
        log.info("observer_stopped", url=self.url)

    def __enter__(self) -> ObserverServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        observer: ObserverServer,
    ) -> None:
        self.observer = observer
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: a page open for hours would flood the log."""

    # ------------------------------------------------------------ GET

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {key: values[-1] for key, values in parse_qs(url.query).items()}
        path = url.path
        if path in _STATIC:
            name, content_type = _STATIC[path]
            body = resources.files("actorfsm.observer").joinpath("static", name).read_bytes()
            self._send(HTTPStatus.OK, body, content_type)
        elif path == "/api/config":
            self._json({"actions": self.server.observer.actions_token is not None})
        elif path == "/api/fsms":
            page = views.fsm_page(
                census.live_fsms(),
                params.get("q", ""),
                _int(params.get("page"), 0),
                _int(params.get("size"), views.PAGE_SIZE),
            )
            self._json(page)
        elif path.startswith("/api/fsm/"):
            fsm = census.find(path.removeprefix("/api/fsm/"))
            if fsm is None:
                self._error(HTTPStatus.NOT_FOUND, "no running FSM has this id")
            else:
                self._json(views.fsm_detail(fsm))
        elif path == "/api/trees":
            self._json(views.trees())
        elif path == "/events":
            self._stream(params.get("fsm"))
        elif path == "/metrics":
            self._metrics()
        else:
            self._error(HTTPStatus.NOT_FOUND, "not found")

    def _metrics(self) -> None:
        registry = self.server.observer.registry
        if registry is None:
            self._error(HTTPStatus.NOT_FOUND, "metrics need prometheus_client: actorfsm[observer]")
            return
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest  # noqa: PLC0415

        self._send(HTTPStatus.OK, generate_latest(registry), CONTENT_TYPE_LATEST)

    def _stream(self, fsm_id: str | None) -> None:
        """Server-sent events: the trees, the FSM count and one FSM's detail, when they change."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        stopping = self.server.observer.stopping
        watched: weakref.ref[FSM[Any, Any]] | None = None
        sent: dict[str, str] = {}
        quiet = 0
        try:
            while not stopping.is_set():
                if fsm_id and watched is None:
                    found = census.find(fsm_id)
                    watched = None if found is None else weakref.ref(found)
                fsm = None if watched is None else watched()
                payloads = {
                    "trees": views.trees(),
                    "count": {"total": census.running_count()},
                }
                if fsm_id:
                    payloads["fsm"] = {"gone": True} if fsm is None else views.fsm_detail(fsm)
                wrote = False
                for event, payload in payloads.items():
                    data = json.dumps(payload, separators=(",", ":"))
                    if sent.get(event) != data:
                        sent[event] = data
                        self.wfile.write(f"event: {event}\ndata: {data}\n\n".encode())
                        wrote = True
                quiet = 0 if wrote else quiet + 1
                if quiet >= KEEPALIVE_EVERY:
                    self.wfile.write(b": keep-alive\n\n")
                    quiet = 0
                self.wfile.flush()
                stopping.wait(STREAM_INTERVAL)
        except (BrokenPipeError, ConnectionResetError):
            return  # the page was closed

    # ------------------------------------------------------------ POST

    def do_POST(self) -> None:
        token = self.server.observer.actions_token
        if token is None:
            self._error(HTTPStatus.FORBIDDEN, "actions are disabled (start with actions_token=...)")
            return
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            self._error(HTTPStatus.UNAUTHORIZED, "needs 'Authorization: Bearer <token>'")
            return
        parts = urlsplit(self.path).path.strip("/").split("/")
        match parts:
            case ["api", "fsm", fsm_id, "stop"]:
                self._stop_fsm(fsm_id)
            case ["api", "fsm", supervisor_id, "children", name, "restart"]:
                self._restart_child(supervisor_id, name)
            case _:
                self._error(HTTPStatus.NOT_FOUND, "no such action")

    def _stop_fsm(self, fsm_id: str) -> None:
        fsm = census.find(fsm_id)
        if fsm is None:
            self._error(HTTPStatus.NOT_FOUND, "no running FSM has this id")
            return
        log.warning("observer_action", action="stop", actor=str(fsm))
        fsm.actor_ref.stop(block=False)
        self._json({"stopping": fsm_id}, HTTPStatus.ACCEPTED)

    def _restart_child(self, supervisor_id: str, name: str) -> None:
        """Stop the child's current incarnation; its supervisor starts a new one (permanent)."""
        supervisor = census.find(supervisor_id)
        if not isinstance(supervisor, Supervisor):
            self._error(HTTPStatus.NOT_FOUND, "no running supervisor has this id")
            return
        child = next((c for c in census.children(supervisor) if c.name == name), None)
        if child is None or child.fsm is None:
            self._error(HTTPStatus.CONFLICT, "the child has no running incarnation")
            return
        if child.restart != "permanent":
            self._error(HTTPStatus.CONFLICT, "only permanent children restart when stopped")
            return
        log.warning("observer_action", action="restart", supervisor=str(supervisor), child=name)
        child.fsm.actor_ref.stop(block=False)
        self._json({"restarting": name}, HTTPStatus.ACCEPTED)

    # --------------------------------------------------------- replies

    def _json(self, payload: views.JSON, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self._send(status, body, "application/json")

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._json({"error": message}, status)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)


def _int(text: str | None, default: int) -> int:
    try:
        return default if text is None else int(text)
    except ValueError:
        return default
