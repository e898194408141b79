"""A simulator of Milesight gateways' embedded network servers, answering the ns-api over a real MQTT broker.

`MilesightSim` is one MQTT client (paho-mqtt 2.x) that plays several gateways. It subscribes to the request
topic and answers chapter 1's envelope {"id", "gatewayEUI", "method", "url", "body"} on the response topic, id,
method and url echoed. A gateway answers the requests whose gatewayEUI is its own (any case) and, as every
gateway on a shared topic would, those without one; a request naming no simulated gateway gets no answer, nor
does any request to a silenced gateway (which keeps running its tasks: only its MQTT side is gone).

Endpoints: GET /api/urdevices (3.3), POST and GET /api/fuota/task (6.1, 6.2), POST /api/fuota/task/delete (6.4)
and /retry (6.5), GET /api/fuota/task/payloadsize (6.6), GET /api/fuota/devices (6.7); the tasks are in
fuota.sim.milesight_tasks. Refusals are bodies {"code", "error"} with the codes of fuota.sim.milesight_codes:
21 for an unknown url or a type other than "ns-api", 22 for a known url asked with another method (PUT
/api/fuota/task, 6.3, is not simulated), 20 for a payload that is not a JSON object (answered by every
gateway, none can tell it was not meant for it), 23 for a bug of the simulator. EUIs are accepted in any case;
answers write the gateway's and 3.3's device EUIs in upper case and chapter 6's in lower case, as the spec's
samples do.

Answers can be garbled (fuota.sim.milesight_faults): a share of them not JSON, with a body that is no object, a code
that is no number or lists of the wrong types, set with `answer_faults` or while serving with `garbler.set(...)`.

`exchanges` keeps the latest requests (`keep_exchanges` of them) with the answers published to them, as they went
over the wire (tests/conformance compares them with the spec's samples).

paho reconnects by itself after a broker restart and on_connect subscribes again (clean session).
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import paho.mqtt.client as mqtt

from fuota.sim.clock import SimClock
from fuota.sim.fleet import Fleet, VirtualDevice
from fuota.sim.milesight_codes import CHANNEL_PLAN_FREQUENCIES, PLAN_PAYLOAD_SIZES, ApiError, ReturnCode, window
from fuota.sim.milesight_faults import AnswerFaults, Garbler
from fuota.sim.milesight_tasks import PROFILE_ID, PROFILE_NAME, Faults, FirmwareVersions, TaskBook, Timing
from fuota.sim.paging import PageCap

__all__ = [
    "AnswerFaults",
    "Call",
    "Envelope",
    "Exchange",
    "FirmwareVersions",
    "MilesightSim",
    "PageCap",
    "Timing",
    "gateway_euis",
]

_Handler = Callable[[Mapping[str, object], Mapping[str, str], float], dict[str, object]]


def gateway_euis(n: int, seed: int = 0) -> list[str]:
    """`n` distinct, deterministic gateway EUIs, lower case, with Milesight's prefix 24e124fffe."""
    rng = np.random.default_rng([seed, 2])
    euis: dict[str, None] = {}  # a dict keeps the drawing order
    while len(euis) < n:
        euis.setdefault(f"24e124fffe{int(rng.integers(0, 2**24)):06x}")
    return list(euis)


class Call(NamedTuple):
    """What `calls` counts: a request that reached a gateway (answered or not), by method and url path."""

    gateway: str  # lower case
    method: str
    path: str


class Exchange(NamedTuple):
    """One request payload as received and the payloads published in answer (one per answering gateway)."""

    request: bytes
    answers: tuple[bytes, ...]


class Gateway:
    """One simulated gateway: its devices (lower case, in order), its tasks, whether it answers."""

    def __init__(self, eui: str, devices: list[str], tasks: TaskBook, channel_plan: str, silent: bool) -> None:
        self.eui, self.devices, self.tasks, self.channel_plan, self.silent = eui, devices, tasks, channel_plan, silent
        self.routes: dict[tuple[str, str], _Handler] = {
            ("GET", "/api/urdevices"): self.urdevices,
            ("POST", "/api/fuota/task"): tasks.create,
            ("GET", "/api/fuota/task"): tasks.list_tasks,
            ("POST", "/api/fuota/task/delete"): tasks.delete,
            ("POST", "/api/fuota/task/retry"): tasks.retry,
            ("GET", "/api/fuota/task/payloadsize"): self.payload_size,
            ("GET", "/api/fuota/devices"): tasks.device_list,
        }
        self.paths = {path for _, path in self.routes}
        self._rows: list[dict[str, object]] | None = None

    def urdevices(self, body: Mapping[str, object], query: Mapping[str, str], now: float) -> dict[str, object]:
        """GET /api/urdevices (3.3): `search` in EUI or name (any case); applicationID 0 or 1 (the only one)."""
        if self._rows is None:  # the simulated devices never change: build their rows once
            self._rows = [_device_row(self.tasks.fleet[eui]) for eui in self.devices]
        needle = query.get("search", "").strip().lower()
        application = query.get("applicationID", "0").strip() or "0"
        rows = [r for r in self._rows if needle in f"{r['devEUI']} {r['name']}".lower() and application in ("0", "1")]
        return {
            "devTotalCount": str(len(rows)),
            "deviceResult": rows[window(query)],
            "appTotalCount": "1",
            "appResult": [{"appName": "fuota", "applicationID": "1"}],
            "pfTotalCount": "1",
            "profileResult": [{"profileID": PROFILE_ID, "profileName": PROFILE_NAME, "supportsJoin": True}],
            "channelPlan": self.channel_plan,
            "disable": False,
        }

    def payload_size(self, body: Mapping[str, object], query: Mapping[str, str], now: float) -> dict[str, object]:
        """GET /api/fuota/task/payloadsize (6.6)."""
        sizes = self.tasks.payload_sizes
        return {"maxPayloadSizeMap": [{"dr": dr, "maxPayloadSize": sizes[dr]} for dr in sorted(sizes)]}

    def answer(self, request: Mapping[str, object], now: float) -> dict[str, object]:
        """The body answering `request`."""
        method, url = request.get("method"), request.get("url")
        if request.get("type") != "ns-api" or not isinstance(url, str):
            raise ApiError(ReturnCode.URL_NOT_SUPPORTED, f"type {request.get('type')!r}, url {url!r}")
        parts = urlsplit(url)
        path = parts.path.rstrip("/") or "/"
        handler = self.routes.get((str(method).upper(), path))
        if handler is None:
            code = ReturnCode.METHOD_NOT_SUPPORTED if path in self.paths else ReturnCode.URL_NOT_SUPPORTED
            raise ApiError(code, f"{method} {path}")
        body = request.get("body")
        return handler(body if isinstance(body, dict) else {}, dict(parse_qsl(parts.query)), now)


def _device_row(device: VirtualDevice) -> dict[str, object]:
    return {
        "devEUI": device.dev_eui.upper(), "name": device.name, "applicationID": "1", "appName": "fuota",
        "description": "", "profileID": PROFILE_ID, "profileName": PROFILE_NAME, "fCntUp": 0, "fCntDown": 0,
        "skipFCntCheck": False, "appKey": "", "devAddr": "", "appSKey": "", "nwkSKey": "", "supportsJoin": True,
        "active": True, "lastSeenAt": "-", "mbMode": "", "mbFramePort": "0", "mbTcpPort": "0",
        "lastSeenAtTime": "-", "fPort": 2, "payloadCodecID": "0", "payloadName": "",
    }  # fmt: skip


class MilesightSim:
    """Milesight gateways' ns-api on a real broker, backed by virtual devices that really decode.

    `gateways` maps each gateway EUI to the device EUIs its network server knows. `loss` is every device's
    fragment loss probability, or one per EUI (others 0). Faults: `never_answer_multicast` devices never answer
    the multicast set-up (multicastSessionStatus 6), `low_memory` ones refuse the fragmentation session (7),
    `silent_gateways` never answer (see also `silence`); `answer_faults` garbles answers (see also `garbler`);
    `envelope` picks the reading of the answers' envelope (Envelope: gatewayEUI own, "" or absent, numeric ids);
    `page_cap` serves lists in pages of at most that many items, under one of the readings of fuota.sim.paging;
    `firmware_versions` what the devices' firmwareVersion holds (FirmwareVersions: "" always, the running version
    changing once upgraded, or one that never changes).
    `channel_plan` is every gateway's channelPlan (3.3), `channel_plans` one gateway's ({gateway EUI: plan}, e.g.
    "CN470", "US915"): a gateway answers its plan in /api/urdevices, its plan's sizes to payloadsize (6.6,
    milesight_codes.PLAN_PAYLOAD_SIZES; EU868's are the spec's sample) unless `payload_sizes` sets them for all,
    and its devices refuse a task frequency outside its plan (multicastSessionStatus 10); `max_tasks` is how many
    tasks a gateway keeps (10310013 beyond). `speed` is simulated seconds per real second (0 freezes the clock: move it
    with `clock.advance`); `timing` the phases' simulated durations; `seed` makes the channels and the garbled
    answers reproducible. `keep_exchanges` is how many of the latest requests `exchanges` keeps with their answers
    (0, the default: none, since a long run's answers would fill the memory).
    """

    def __init__(
        self,
        broker_url: str,
        gateways: Mapping[str, Iterable[str]],
        *,
        request_topic: str = "milesight/ns-api/request",
        response_topic: str = "milesight/ns-api/response",
        loss: float | Mapping[str, float] = 0.0,
        speed: float = 1.0,
        seed: int = 0,
        never_answer_multicast: Iterable[str] = (),
        low_memory: Iterable[str] = (),
        silent_gateways: Iterable[str] = (),
        payload_sizes: Mapping[int, int] | None = None,
        channel_plan: str = "EU868",
        channel_plans: Mapping[str, str] | None = None,
        timing: Timing | None = None,
        max_tasks: int = 32,
        answer_faults: AnswerFaults | None = None,
        envelope: Envelope | None = None,
        page_cap: PageCap | None = None,
        keep_exchanges: int = 0,
        firmware_versions: FirmwareVersions | None = None,
    ) -> None:
        parts = urlsplit(broker_url)
        if parts.scheme != "mqtt" or not parts.hostname or parts.port is None:
            raise ValueError(f"broker_url = {broker_url!r}: give mqtt://HOST:PORT")
        plans = {gw.lower(): plan for gw, plan in (channel_plans or {}).items()}
        for plan in (channel_plan, *plans.values()):
            if plan not in CHANNEL_PLAN_FREQUENCIES:
                raise ValueError(
                    f"channel plan {plan!r} is not one the simulator plays: give one of "
                    + ", ".join(CHANNEL_PLAN_FREQUENCIES)
                )
        self.request_topic, self.response_topic = request_topic, response_topic
        self.clock = SimClock(speed)
        members = {gw.lower(): [eui.lower() for eui in euis] for gw, euis in gateways.items()}
        everyone = [eui for euis in members.values() for eui in euis]
        self.fleet = Fleet(everyone, loss=loss, never_join=never_answer_multicast, seed=seed)
        short = frozenset(eui.lower() for eui in low_memory)
        silent = {gw.lower() for gw in silent_gateways}
        timing, versions = timing or Timing(), firmware_versions or FirmwareVersions()
        self._gateways: dict[str, Gateway] = {}
        for gw, euis in members.items():
            plan = plans.get(gw, channel_plan)
            sizes = dict(PLAN_PAYLOAD_SIZES[plan] if payload_sizes is None else payload_sizes)
            faults = Faults(short, CHANNEL_PLAN_FREQUENCIES[plan])
            book = TaskBook(set(euis), self.fleet, sizes, timing, faults, max_tasks, self.clock, versions)
            self._gateways[gw] = Gateway(gw, euis, book, plan, gw in silent)
        self.garbler = Garbler(answer_faults or AnswerFaults(), seed)
        self.envelope = envelope or Envelope()
        self.page_cap = page_cap
        self._lock = threading.RLock()  # one lock over the whole model: requests see it change atomically
        self._calls: Counter[Call] = Counter()
        self._exchanges: deque[Exchange] = deque(maxlen=keep_exchanges)
        self._subscribed = threading.Event()
        self._stopped = threading.Event()
        self._host, self._port = parts.hostname, parts.port
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"milesight-sim-{uuid.uuid4().hex[:12]}")
        self._client.reconnect_delay_set(1, 2)  # back within ~2 s of a broker restart
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._started = False

    # --- serving -------------------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> MilesightSim:
        """Connect and subscribe (waiting up to `timeout` s for both); return self. Reconnects are paho's."""
        if not self._started:
            self._started = True
            self._stopped.clear()
            self._client.connect_async(self._host, self._port, keepalive=30)
            self._client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise TimeoutError(f"no subscription to {self.request_topic} on {self._host}:{self._port} in {timeout} s")
        return self

    def stop(self) -> None:
        """Disconnect and stop paho's thread; safe to call twice."""
        if self._started:
            self._started = False
            self._client.disconnect()
            self._client.loop_stop()
            self._subscribed.clear()
        self._stopped.set()

    def serve_forever(self) -> None:
        """Serve until Ctrl-C (or `stop` from another thread), then stop cleanly."""
        self.start()
        try:
            while not self._stopped.wait(0.2):  # a bounded wait, so that the main thread sees KeyboardInterrupt
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> MilesightSim:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        """True while connected and subscribed."""
        return self._subscribed.is_set()

    # --- inspection and faults, for tests and rehearsals ------------------------------------------------------

    @property
    def calls(self) -> Counter[Call]:
        """A snapshot of the requests each gateway received, e.g. calls[Call(gw, "POST", "/api/fuota/task")]."""
        with self._lock:
            return Counter(self._calls)

    @property
    def exchanges(self) -> list[Exchange]:
        """A snapshot of the latest requests (at most `keep_exchanges`), oldest first, each with its answers."""
        with self._lock:
            return list(self._exchanges)

    @property
    def gateways(self) -> list[str]:
        """The simulated gateways' EUIs, lower case."""
        return list(self._gateways)

    @property
    def fragment_phases(self) -> list[tuple[str, float, float]]:
        """Every task's fragment phase as created, on the simulated clock: (task name, first fragment's time, the
        time the last one's interval ends), seconds. A rehearsal compares its length with `fuota plan`'s."""
        with self._lock:
            return [phase for gateway in self._gateways.values() for phase in gateway.tasks.phases]

    def tasks(self, gateway: str) -> list[dict[str, object]]:
        """The tasks `gateway` holds, as 6.2 lists them (newest first; firmwareName as received)."""
        with self._lock:
            return self._gateways[gateway.lower()].tasks.summaries(self.clock.now())

    def device(self, dev_eui: str) -> VirtualDevice:
        """The virtual device `dev_eui`, every task brought up to now (`.session.decoder`, `.session.received`)."""
        with self._lock:
            now = self.clock.now()
            for gateway in self._gateways.values():
                gateway.tasks.advance(now)
            return self.fleet[dev_eui]

    def silence(self, gateway: str, silent: bool = True) -> None:
        """Make `gateway` stop answering (or answer again with silent=False); its tasks keep running."""
        with self._lock:
            self._gateways[gateway.lower()].silent = silent

    # --- MQTT ------------------------------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if not reason.is_failure:
            client.subscribe(self.request_topic, qos=0)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: list, properties: Any) -> None:
        if reasons and not any(reason.is_failure for reason in reasons):
            self._subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._subscribed.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        published = []
        for gateway, answer in self._answers(message.payload):
            published.append(self.garbler.payload(gateway, answer))
            client.publish(self.response_topic, published[-1], qos=0)
        with self._lock:
            self._exchanges.append(Exchange(message.payload, tuple(published)))

    def _answers(self, payload: bytes) -> list[tuple[str, dict[str, object]]]:
        try:
            request = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            request = None
        with self._lock:
            if not isinstance(request, dict):
                error = ApiError(ReturnCode.PARSE_JSON, "the request is not a JSON object").body()
                return [(gw.eui, self.envelope.wrap({}, gw, error)) for gw in self._gateways.values() if not gw.silent]
            target = request.get("gatewayEUI")
            if target is None or target == "":
                chosen = list(self._gateways.values())
            else:
                gateway = self._gateways.get(target.lower()) if isinstance(target, str) else None
                chosen = [gateway] if gateway else []
            path = urlsplit(str(request.get("url", ""))).path
            answers = []
            for gateway in chosen:
                self._calls[Call(gateway.eui, str(request.get("method", "")).upper(), path)] += 1
                if not gateway.silent:
                    answers.append((gateway.eui, self.envelope.wrap(request, gateway, self._body(gateway, request))))
            return answers

    def _body(self, gateway: Gateway, request: Mapping[str, object]) -> dict[str, object]:
        if self.page_cap is not None:
            request = self._capped(request)
        try:
            return gateway.answer(request, self.clock.now())  # the time is read inside the lock: it never runs back
        except ApiError as exc:
            return exc.body()
        except Exception:
            # A bug of the simulator: say so on stderr and answer as a failing server would.
            traceback.print_exc(file=sys.stderr)
            return ApiError(ReturnCode.INTERNAL, "simulator error").body()

    def _capped(self, request: Mapping[str, object]) -> Mapping[str, object]:
        """`request` with its limit/offset as a gateway capping its pages reads them."""
        url = request.get("url")
        if self.page_cap is None or not isinstance(url, str) or "?" not in url:
            return request
        parts = urlsplit(url)
        query = self.page_cap.offset(dict(parse_qsl(parts.query)))
        return {**request, "url": parts._replace(query=urlencode(query)).geturl()}


@dataclass(frozen=True)
class Envelope:
    """How the answers' envelope reads, for every reading chapter 1 allows: `gateway_eui` "own" (the sample's
    first line), "empty" (its second, "") or "absent"; `numeric_ids` echoes a digit id as a JSON number (one sample
    echoes `"id": 1`); `typed` adds the request's `"type": "ns-api"` to the answer."""

    gateway_eui: Literal["own", "empty", "absent"] = "own"
    numeric_ids: bool = False
    typed: bool = False

    def wrap(self, request: Mapping[str, object], gateway: Gateway, body: dict[str, object]) -> dict[str, object]:
        """The answer of `gateway` to `request`, carrying `body`."""
        echoed = request.get("id", "")
        if self.numeric_ids and isinstance(echoed, str) and echoed.isdigit():
            echoed = int(echoed)
        answer: dict[str, object] = {"type": "ns-api"} if self.typed else {}
        answer["id"] = echoed
        if self.gateway_eui != "absent":
            answer["gatewayEUI"] = gateway.eui.upper() if self.gateway_eui == "own" else ""
        return answer | {"method": request.get("method", ""), "url": request.get("url", ""), "body": body}
