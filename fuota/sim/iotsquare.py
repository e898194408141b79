"""A simulator of the IoTSquare OpenAPI: an HTTP server on 127.0.0.1 for tests, the demo and rehearsals.

It speaks the spec's JSON envelope {code, msg, data[, amount]} for the multicast-group, multicast-device and
file-transfer endpoints under /openapi/ (GET parameters in the query string, POST bodies in JSON), with the
codes and messages of section 10.1. Behind it a fleet of virtual devices really decodes the fragments the
tasks send (fuota.sim.fleet); tasks run on a simulated clock that `speed` accelerates.

Faults are injectable (fuota.sim.iotsquare_faults): storms of 5xx and 1001 System Busy, slow answers, connections
dropped mid-answer, bodies that are not JSON and envelopes of the wrong types, set at construction (`faults`) or
while serving (`faults.set(...)`); `loss` and `never_join` shape the devices. Every request is counted in `calls`
by its path under /openapi/ (e.g. calls["fuota/create"]), whatever it was answered; `done` counts the requests
the simulator carried out (a dropped or garbled answer's request included); `exchanges` keeps the latest requests
(`keep_exchanges` of them) with their answers as they went over the wire (tests/conformance compares them with the
spec's samples).

Answers are HTTP 200 with the envelope, except an unknown path (404) and a known path asked with the wrong
method (405), both with code 1007. EUIs are accepted in either case and answered in lower case.
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from fuota.sim.clock import SimClock
from fuota.sim.fleet import Fleet, VirtualDevice, fleet_euis
from fuota.sim.iotsquare_auth import SimToken
from fuota.sim.iotsquare_codes import RESPONSE_CODES, ApiError, Reply, eui
from fuota.sim.iotsquare_faults import Fate, FaultInjector, Faults, error_answer, malformed_body, wrong_types
from fuota.sim.iotsquare_groups import GroupBook, McGroup
from fuota.sim.iotsquare_tasks import TaskBook, Timing
from fuota.sim.paging import PageCap

__all__ = ["Answer", "Exchange", "Faults", "IoTSquareSim", "PageCap", "fleet_euis"]

SIM_APP_EUI = "526973696e674846"  # the application every simulated device is registered under (3.2.5's sample's)

_Handler = Callable[[dict[str, object], float], Reply]


class IoTSquareSim:
    """The IoTSquare OpenAPI on 127.0.0.1, backed by virtual devices that really decode.

    `devices` are the registered EUIs (any other is 4001 Device Not Exist); `groups` maps mcEUI to member EUIs
    of manually configured groups that exist from the start (members are registered and joined). Requests must
    carry `token` in the header `token_header` (alone or after "Bearer "): none is 1003, another 1004; with
    `token_expires_after` = N every call after the Nth accepted one answers 1003 until `rotate_token(new)`
    (fuota.sim.iotsquare_auth). `busy_group` answers fuota/create with 16001 as for a group busy with another task:
    True for every create until the attribute is set False, a number for that many create requests.
    `query_errors` = N answers the next N fuota/status requests with 1008 Query Error without acting, a burst a
    poller must ride out (`fail_queries(n)` starts another while serving).
    `loss` is every device's fragment loss probability, or one per EUI (others 0); `never_join` devices never
    join an auto-configured group (in a manual one the server counts them joined, as the spec says, but they
    hear no fragment). `speed` is simulated seconds per real second (0 freezes the clock: move it with
    `clock.advance`); `join_delay`, `fragment_interval` and `phase_time` are simulated seconds (`fragment_interval`
    None: each task paces as the real server would, the interval `fuota plan` estimates). `faults` are the
    answers' faults (`busy_rate` and `delay` are shortcuts for the same fields when `faults` is not given); the
    `faults` attribute changes them while serving. `seed` makes the channels, descriptors and faults reproducible.
    `page_cap` serves lists in pages of at most that many items, under one of the readings of fuota.sim.paging.
    `keep_exchanges` is how many of the latest requests `exchanges` keeps with their answers (0, the default:
    none, since a long run's answers would fill the memory).
    """

    def __init__(
        self,
        *,
        devices: Iterable[str] = (),
        groups: Mapping[str, Iterable[str]] | None = None,
        token: str = "sim-token",
        token_header: str = "Authorization",
        token_expires_after: int | None = None,
        busy_group: bool | int = False,
        query_errors: int = 0,
        loss: float | Mapping[str, float] = 0.0,
        never_join: Iterable[str] = (),
        faults: Faults | None = None,
        busy_rate: float = 0.0,
        delay: float = 0.0,
        speed: float = 1.0,
        frag_size: int = 48,
        join_delay: float = 30.0,
        fragment_interval: float | None = None,
        phase_time: float = 5.0,
        seed: int = 0,
        port: int = 0,
        tls: tuple[str, str] | None = None,
        page_cap: PageCap | None = None,
        keep_exchanges: int = 0,
    ) -> None:
        if not 1 <= frag_size <= 255:
            raise ValueError(f"frag_size = {frag_size}: 1..255 bytes (FragSize is one byte)")
        if faults is not None and (busy_rate or delay):
            raise ValueError(f"busy_rate = {busy_rate}, delay = {delay}: give them inside faults, or no faults")
        if min(join_delay, fragment_interval or 0.0, phase_time) < 0:
            raise ValueError("join_delay, fragment_interval and phase_time are durations, ≥ 0")
        if int(busy_group) < 0 or query_errors < 0:
            raise ValueError(f"busy_group = {busy_group}, query_errors = {query_errors}: counts of requests, ≥ 0")
        self.credentials = SimToken(token, token_header, token_expires_after)
        self._query_errors = query_errors
        self.token_header = token_header
        self.clock = SimClock(speed)
        self.fleet = Fleet(devices, loss=loss, never_join=never_join, seed=seed)
        self._rng = np.random.default_rng([seed, 1])  # descriptors and group keys
        self._groups = GroupBook(self.fleet, self.clock, join_delay, self._rng)
        self._tasks = TaskBook(self._groups, Timing(phase_time, fragment_interval), frag_size, self._rng, self.clock)
        self._tasks.busy = busy_group
        for mc_eui, members in (groups or {}).items():
            self._groups.preset(mc_eui, list(members), 0.0)
        self._routes: dict[str, tuple[str, _Handler]] = {
            "device/status": ("GET", self._device_status),
            "mcgroup/list": ("GET", self._groups.list_groups),
            "mcgroup/create": ("POST", self._groups.create_group),
            "mcgroup/delete": ("POST", self._delete_groups),
            "mcdevice/list": ("GET", self._groups.list_members),
            "mcdevice/create": ("POST", self._groups.bind),
            "mcdevice/delete": ("POST", self._groups.unbind),
            "fuota/create": ("POST", self._tasks.create),
            "fuota/list": ("GET", self._tasks.list_tasks),
            "fuota/status": ("GET", self._tasks.status),
            "fuota/device/list": ("GET", self._tasks.devices),
            "fuota/abort": ("POST", self._tasks.abort),
        }
        self.faults = FaultInjector(faults or Faults(busy_rate=busy_rate, delay=delay), seed, self._routes)
        self._lock = threading.RLock()  # one lock over the whole model: requests see it change atomically
        self._calls: Counter[str] = Counter()
        self._done: Counter[str] = Counter()
        self._exchanges: deque[Exchange] = deque(maxlen=keep_exchanges)
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tls = tls  # (certificate, key) PEM files: serve HTTPS, as a real IoTSquare server does
        self.page_cap = page_cap

    # --- serving -------------------------------------------------------------------------------------------

    def start(self) -> IoTSquareSim:
        """Listen on 127.0.0.1 (a free port when `port` was 0) in a daemon thread; return self."""
        if self._server is None:
            self._server = _Server(("127.0.0.1", self._port), _RequestHandler, self)
            if self._tls is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(*self._tls)
                self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="iotsquare-sim", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close the socket; safe to call twice."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()

    def serve_forever(self) -> None:
        """Serve until Ctrl-C (or `stop` from another thread), then stop cleanly."""
        self.start()
        thread = self._thread
        try:
            while thread is not None and thread.is_alive():
                thread.join(0.2)  # a bounded wait, so that the main thread sees KeyboardInterrupt
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> IoTSquareSim:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port listened on (after `start`)."""
        if self._server is None:
            raise RuntimeError("the simulator is not started: call start() or use it as a context manager")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:8123 (https with `tls`; the endpoints are under /openapi/)."""
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    # --- credentials and a busy group, changeable while serving ----------------------------------------------

    @property
    def token(self) -> str:
        """The token accepted now."""
        return self.credentials.token

    def rotate_token(self, new: str) -> None:
        """Accept `new` from now on (the old token answers 1004), for `token_expires_after` calls again."""
        self.credentials.rotate(new)

    @property
    def busy_group(self) -> bool | int:
        """16001 on fuota/create: True for every create, a number for that many more, False for none."""
        with self._lock:
            return self._tasks.busy

    @busy_group.setter
    def busy_group(self, value: bool | int) -> None:
        with self._lock:
            self._tasks.busy = value

    def fail_queries(self, calls: int) -> None:
        """Answer the next `calls` fuota/status requests with 1008 Query Error, without acting."""
        with self._lock:
            self._query_errors = calls

    # --- inspection, for tests and rehearsals ----------------------------------------------------------------

    @property
    def calls(self) -> Counter[str]:
        """A snapshot of the number of requests per path under /openapi/, e.g. calls["fuota/create"]."""
        with self._lock:
            return Counter(self._calls)

    @property
    def done(self) -> Counter[str]:
        """A snapshot of the requests carried out (code 0) per path, whether or not their answer reached the client:
        done["fuota/create"] is the number of tasks really created."""
        with self._lock:
            return Counter(self._done)

    @property
    def exchanges(self) -> list[Exchange]:
        """A snapshot of the latest requests (at most `keep_exchanges`), oldest first, each with the answer sent."""
        with self._lock:
            return list(self._exchanges)

    @property
    def fragment_phases(self) -> list[tuple[str, float, float]]:
        """Every task's fragment phase as created, on the simulated clock: (firmwareName, EnqueueFragment's start,
        its end), seconds — kept after the group is deleted. A rehearsal compares its length with `fuota plan`'s."""
        with self._lock:
            return list(self._tasks.phases)

    @property
    def sends(self) -> Counter[str]:
        """A snapshot of the fragmentation sessions set up per device (a device's `fragments_sent` counts its
        fragments): what a retry must never do again to an updated device."""
        with self._lock:
            self._tasks.advance(self.clock.now())
            return Counter({eui: d.sessions for eui, d in self.fleet.items() if d.sessions})

    def device(self, dev_eui: str) -> VirtualDevice:
        """The virtual device `dev_eui`, its decoder brought up to now (`.session.decoder`, `.session.received`)."""
        with self._lock:
            self._tasks.advance(self.clock.now())
            return self.fleet[dev_eui]

    @property
    def created_groups(self) -> list[McGroup]:
        """Every group mcgroup/create made, as created (region, subnet, push_urls, headers, enable_mqtt,
        auto_subnet…), deleted ones included."""
        with self._lock:
            return list(self._groups.created)

    def image(self, fd_id: int) -> bytes:
        """The payload task `fd_id` received (base64-decoded)."""
        with self._lock:
            return self._tasks.tasks[fd_id].image

    # --- answering -------------------------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: Message | Mapping[str, str], raw: bytes) -> Answer:
        """Answer one request as the faults in force have it: the HTTP status, the body, whether to cut it."""
        answer = self._answer(method, target, headers, raw)
        with self._lock:
            self._exchanges.append(Exchange(method, target, raw, answer))
        return answer

    def _answer(self, method: str, target: str, headers: Message | Mapping[str, str], raw: bytes) -> Answer:
        endpoint = urlsplit(target).path.removeprefix("/openapi/").strip("/")
        with self._lock:
            self._calls[endpoint] += 1
        verdict = self.faults.draw(endpoint)
        if verdict.delay:
            time.sleep(verdict.delay)  # outside the lock: other requests go on meanwhile
        if verdict.refuse_msg is not None:
            return Answer(200, json.dumps({"code": 1007, "msg": verdict.refuse_msg}).encode())
        if verdict.fate is Fate.ERROR:
            status, body = error_answer(verdict.variant)
            return Answer(status, body, "text/html" if body.startswith(b"<") else "application/json")
        status, envelope = self._envelope(method, target, headers, raw, busy=verdict.fate is Fate.BUSY)
        if verdict.fate is Fate.MALFORMED:
            return Answer(status, malformed_body(envelope, verdict.variant))
        if verdict.fate is Fate.WRONG:
            envelope = wrong_types(endpoint, envelope, verdict.variant)
        return Answer(status, json.dumps(envelope).encode(), cut=verdict.fate is Fate.DROP)

    def _envelope(
        self, method: str, target: str, headers: Message | Mapping[str, str], raw: bytes, *, busy: bool
    ) -> tuple[int, dict]:
        """The model's answer: the HTTP status and the JSON envelope; `busy` answers 1001 without acting."""
        url = urlsplit(target)
        endpoint = url.path.removeprefix("/openapi/").strip("/")
        route = self._routes.get(endpoint) if url.path.startswith("/openapi/") else None
        if route is None:
            return 404, _envelope(ApiError(1007, f"no endpoint {url.path}"))
        if route[0] != method:
            return 405, _envelope(ApiError(1007, f"{endpoint} answers {route[0]}, not {method}"))
        try:
            self.credentials.authorize(headers)
            if busy:
                raise ApiError(1001)
            self._query_error(endpoint)
            body = _parse(method, url.query, raw)
            if self.page_cap is not None:
                body = self.page_cap.numbered(body)
            with self._lock:  # the time is read inside the lock, so that it never runs backwards for the model
                reply = route[1](body, self.clock.now())
                self._done[endpoint] += 1
        except ApiError as exc:
            return 200, _envelope(exc)
        envelope: dict[str, object] = {"code": 0, "msg": RESPONSE_CODES[0]}
        if reply.data is not None:
            envelope["data"] = reply.data
        if reply.amount is not None:
            envelope["amount"] = reply.amount
            if self.page_cap is not None:
                envelope["data"] = self.page_cap.served(reply.data)
        return 200, envelope

    def _query_error(self, endpoint: str) -> None:
        with self._lock:
            if endpoint != "fuota/status" or self._query_errors <= 0:
                return
            self._query_errors -= 1
        raise ApiError(1008, "the query failed")

    def _device_status(self, body: dict[str, object], now: float) -> Reply:
        """GET device/status (3.2.5): a registered device's settings, 4001 for any other EUI."""
        dev_eui = eui(body, "devEUI")
        if dev_eui not in self.fleet:
            raise ApiError(4001, f"no device {dev_eui}")
        # Every field of 3.2.5's sample; the simulator holds no session keys, so they read empty.
        return Reply({"devEUI": dev_eui, "appEUI": SIM_APP_EUI, "devName": f"sim_{dev_eui[-6:]}", "authType": "otaa",
                      "region": "eu868", "subnet": "ch_00-07", "devAddr": dev_eui[-8:], "appKey": "", "appSKey": "",
                      "nwkSKey": "", "supportClassB": False, "supportClassC": True,
                      "createtime": self.clock.ms(0.0)})  # fmt: skip

    def _delete_groups(self, body: dict[str, object], now: float) -> Reply:
        deleted, refusals = self._groups.delete_groups(body)
        self._tasks.forget(deleted)
        if refusals:
            raise ApiError(14007, f"{len(refusals)} group(s) not deleted", refusals)
        return Reply()


@dataclass(frozen=True, slots=True)
class Answer:
    """What the server sends: `cut` sends the headers and half the body, then closes the connection."""

    status: int
    body: bytes
    content_type: str = "application/json"
    cut: bool = False


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request as received (`target`: path and query string; `body`: the raw POST body) and its answer."""

    method: str
    target: str
    body: bytes
    answer: Answer


def _parse(method: str, query: str, raw: bytes) -> dict[str, object]:
    if method == "GET":
        return dict(parse_qsl(query))
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(1007, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(1007, "the body must be a JSON object")
    return body


def _envelope(error: ApiError) -> dict[str, object]:
    envelope: dict[str, object] = {"code": error.code, "msg": RESPONSE_CODES[error.code]}
    if error.data is not None:
        envelope["data"] = error.data
    return envelope


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], sim: IoTSquareSim) -> None:
        super().__init__(address, handler)
        self.sim = sim

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        # A client that died or hung up mid-request (a killed daemon) is a normal event for a server, not a bug.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection across polls
    disable_nagle_algorithm = True  # headers and body leave in two writes; Nagle would hold the body ~40 ms
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            answer = self.server.sim.answer(method, self.path, self.headers, raw)
        except Exception:
            # A bug of the simulator: say so on stderr and answer as a failing server would, with a 5xx.
            traceback.print_exc(file=sys.stderr)
            answer = Answer(500, json.dumps(_envelope(ApiError(1008, "simulator error"))).encode())
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            # A cut answer dies mid-body: the promised length never arrives.
            self.wfile.write(answer.body[: len(answer.body) // 2] if answer.cut else answer.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a slow answer): nobody to answer
        if answer.cut:
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass  # an access line per poll would drown test and demo output
