"""Issue 15 item 8 (b) and (c): the simulators answer, and fuota asks, in the shapes of the specs' own samples.

A campaign's whole round of calls — plan-time checks, targeting, create, polls through every phase, retry, abort,
clean-up, and the refusals fuota meets on the way — runs through each adapter against its simulator over real
HTTP on 127.0.0.1 and the real Mosquitto fixture. Every exchange the simulator logged (`exchanges`) is then
compared with the fixtures of tests/conformance/samples by tests.conformance.shapes (its docstring has the rules:
every key of the sample, no other key unless ALLOWANCES says why, a number is any int or float, "" any string,
null anything):

- (b) every answer against the sample answer of its endpoint — an IoTSquare answer with a code ≠ 0 against the
  sample of that code when the spec shows one (14007, 14008), else against section 1's envelope {code, msg};
  a Milesight body with a code other than 200 against 6.4's {code, error};
- (c) every request against the endpoint's sample request: an IoTSquare POST body against the samples, and where
  the section has none (its GETs, fuota/abort) the body or query against its Request Parameter table (only its
  fields, each of its type); a Milesight request's chapter 1 envelope, its body, and the query parameters of
  its url, which must be among those of the sample's url or the section's table (ALLOWED_QUERY).

Each test ends by checking that every endpoint fuota uses was exchanged, so that a round that stops early cannot
pass by comparing nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from fuota.backends.iotsquare.adapter import IoTSquareBackend, group_identity
from fuota.backends.milesight.adapter import MilesightBackend
from fuota.core.model import DeploymentState
from fuota.core.reports import TaskSpec
from fuota.sim.iotsquare import Exchange, IoTSquareSim, fleet_euis
from fuota.sim.milesight import MilesightSim, gateway_euis
from fuota.sim.milesight_tasks import Timing
from fuota.sim.paging import PageCap
from tests.conformance.extract import ENDPOINTS
from tests.conformance.shapes import ALLOWANCES, best, envelope_problems, matching, problems
from tests.support.broker import Broker
from tests.support.waiting import wait_for

# Section 1 of the IoTSquare spec, in prose: "the outermost layer is code, msg, data".
IOTSQUARE_ERROR = {"code": 0, "msg": ""}
# 6.4/6.5/6.3's body of an answer that carries a code ("Return 200 if success, failure return code see 6.11").
MILESIGHT_CODE_BODY = {"code": 200, "error": ""}
# Query parameters the section's table lists though its sample url does not show them, by path.
ALLOWED_QUERY = {"/api/fuota/task": {"search"}, "/api/urdevices": {"search"}}

FAST = Timing(multicast_setup=20, fragment_setup=10, status_report=10, upgrade=10)


class _Excuses:
    """The allowances of ALLOWANCES, and which of them excused something: one left unused is a stale excuse."""

    def __init__(self) -> None:
        self.used: dict[tuple[str, str | None, str | None, str], set[str]] = {}

    def __call__(
        self, vendor: str, method: str | None, path: str | None, direction: str
    ) -> tuple[dict[str, dict[str, str]], set[str]]:
        key = (vendor, method, path, direction)
        return ALLOWANCES.get(key, {}), self.used.setdefault(key, set())

    def unused(self, vendor: str) -> list[str]:
        return [
            f"{key}: {name}"
            for key, sides in ALLOWANCES.items()
            if key[0] == vendor
            for names in sides.values()
            for name in names
            if name not in self.used.get(key, set())
        ]


# --- IoTSquare ---------------------------------------------------------------------------------------------------


# Each round runs on a simulator that pages as fuota asks, and on one that serves two items a page.
PAGINGS = pytest.mark.parametrize("page_cap", [None, PageCap(2)], ids=["whole pages", "pages of 2"])


@pytest.fixture
def iotsquare(page_cap: PageCap | None) -> Iterator[tuple[IoTSquareSim, IoTSquareBackend]]:
    knobs = {"speed": 0, "join_delay": 10, "phase_time": 5, "keep_exchanges": 10_000, "page_cap": page_cap}
    with IoTSquareSim(devices=fleet_euis(6), **knobs) as sim:
        backend = IoTSquareBackend("conformance", sim.url, sim.token, retry_attempts=2, retry_wait_initial=0.01)
        yield sim, backend
        backend.close()


def _iotsquare_round(sim: IoTSquareSim, backend: IoTSquareBackend) -> None:
    devices = fleet_euis(6)
    stranger = "00000000000000aa"  # registered nowhere: 4001 on device/status, refused by mcdevice/create
    backend.reachable()
    assert backend.registered((devices[0], stranger)) == {devices[0]: True, stranger: False}
    manual = {
        "name_prefix": "conformance manual",
        "region": "eu868",
        "subnet": "ch_00-07",
        "enable_mc_remote": False,
        "mc_addr": "45c325ce",
        "mc_app_s_key": "a1ef710bb888c7f0d1a296a442203fb8",
        "mc_nwk_s_key": "868d85d136e7006619c6910aaf3e488e",
    }
    target = backend.prepare(None, (*devices[:4], stranger), manual)
    assert set(target.refused) == {stranger}
    assert set(backend.prepare(None, devices[:4], manual).members) == set(devices[:4])  # a repeat: 14002, then ours
    auto = {
        "name_prefix": "conformance auto",
        "region": "eu868",
        "subnet": "ch_00-07",
        "enable_mc_remote": True,
        "group_id": 0,
        "gen_app_key": "504e83e6dd1a457af1bf93f99d362e89",
        "enable_mc_ext": True,
        "time_slot_length": 3,
        "enable_mqtt": False,
        "push_url": "https://test.example.com/api/iotsquare",
        "headers": {"userID": "2333", "x-access-token": "6666"},
    }
    other = backend.prepare(None, devices[4:], auto)
    assert set(backend.ready(target.target)) == set(devices[:4])
    spec = TaskSpec("conformance", target.target, bytes(range(256)) * 4, 30.0)
    ref = backend.create(spec)
    states = set()
    for _ in range(60):
        status = backend.status(ref)
        states.add(status.state)
        backend.devices(ref)
        if status.state is DeploymentState.DONE:
            break
        sim.clock.advance(60)
    assert DeploymentState.DONE in states
    second = backend.create(TaskSpec("conformance second", other.target, b"\x01" * 500, 30.0))
    backend.abort(second)
    backend.cleanup(target)
    backend.cleanup(other)
    backend.cleanup(target)  # already gone: 14007 listing 14001, which counts as deleted
    assert group_identity("conformance manual", 0)[0] == target.target


def _iotsquare_request_problems(exchange: Exchange, path: str, excuses: _Excuses) -> list[str]:
    """A POST body against the section's sample requests; a request with none (GETs, fuota/abort) against the
    section's Request Parameter table: only fields of the table, each of its type (a query's number: digits)."""
    sent: dict[str, Any]
    if exchange.method == "POST":
        sent = json.loads(exchange.body)
        if requests := [s for s in matching("iotsquare", "POST", path, "request") if s.label != "table"]:
            return best(sent, requests, *excuses("iotsquare", "POST", path, "request"))
    else:
        sent = dict(parse_qsl(urlsplit(exchange.target).query, keep_blank_values=True))
    (table,) = [s for s in matching("iotsquare", exchange.method, path, "request") if s.label == "table"]
    found = []
    for key, value in sent.items():
        if key not in table.json:
            found.append(f"{table}: {key}: not in the table")
        elif exchange.method == "GET":
            if isinstance(table.json[key], int | float) and not str(value).isdigit():
                found.append(f"{table}: {key}: {value!r} is not a number")
        else:
            found += [f"{table}: {p}" for p in problems(value, table.json[key], where=key)]
    return found


@PAGINGS
def test_iotsquare_simulator_answers_and_fuota_asks_as_the_samples(
    iotsquare: tuple[IoTSquareSim, IoTSquareBackend],
) -> None:
    sim, backend = iotsquare
    _iotsquare_round(sim, backend)
    excuses = _Excuses()
    found: list[str] = []
    seen: set[tuple[str, str]] = set()
    for exchange in sim.exchanges:
        path = urlsplit(exchange.target).path
        seen.add((exchange.method, path))
        where = f"{exchange.method} {path}"
        answer = json.loads(exchange.answer.body)
        if answer["code"] == 0:
            candidates = matching("iotsquare", exchange.method, path, "response")
            found += [
                f"{where}: {p}"
                for p in best(answer, candidates, *excuses("iotsquare", exchange.method, path, "response"))
            ]
        else:
            same = [
                s for s in matching("iotsquare", exchange.method, path, "response") if s.json["code"] == answer["code"]
            ]
            if same:
                found += [f"{where}: {p}" for p in best(answer, same)]
            else:
                found += [f"{where} (code {answer['code']}): {p}" for p in problems(answer, IOTSQUARE_ERROR)]
        found += [f"{where} request: {p}" for p in _iotsquare_request_problems(exchange, path, excuses)]
    assert sorted(set(found)) == []
    assert set(ENDPOINTS["iotsquare"]) <= seen
    assert excuses.unused("iotsquare") == []


# --- Milesight ---------------------------------------------------------------------------------------------------


@pytest.fixture
def milesight(
    mqtt_broker: Broker, page_cap: PageCap | None
) -> Iterator[tuple[MilesightSim, MilesightBackend, str, list[str]]]:
    gateway = gateway_euis(1)[0]
    devices = fleet_euis(4, seed=7)
    knobs = {"speed": 0, "timing": FAST, "low_memory": {devices[3]}, "keep_exchanges": 10_000, "page_cap": page_cap}
    with MilesightSim(mqtt_broker.url, {gateway: devices}, **knobs) as sim:
        backend = MilesightBackend(
            "conformance", mqtt_broker.url, timeout=2.0, retry_attempts=2, retry_wait_initial=0.01
        )
        yield sim, backend, gateway, devices
        backend.close()


def _milesight_round(sim: MilesightSim, backend: MilesightBackend, gateway: str, devices: list[str]) -> None:
    stranger = "00000000000000aa"
    assert backend.locate([gateway], [*devices, stranger])[stranger] is None
    target = backend.prepare(gateway, (*devices, stranger), {})
    options = backend.task_options(gateway, {"fragment_size": 40, "fragment_interval": 1000})
    spec = TaskSpec("conformance", gateway, bytes(range(200)), 30.0, target.members, options)
    ref = backend.create(spec)
    assert backend.find(spec) == ref

    def ended() -> bool:
        sim.clock.advance(30)
        backend.devices(ref)
        return backend.status(ref).state in (DeploymentState.DONE, DeploymentState.FAILED)

    wait_for(ended, 30, "the task to end on the simulated clock", every=0.01)
    backend.retry(ref)  # the low-memory device failed the task: status 4, so the retry is sent
    backend.abort(ref)
    backend.abort(ref)  # already deleted: refused with a code


def _milesight_body_problems(method: str, path: str, direction: str, body: object, excuses: _Excuses) -> list[str]:
    samples = [s for s in matching("milesight", method, path, direction) if "body" in s.json]
    if direction == "response" and isinstance(body, dict) and "code" in body and body["code"] != 200:
        return problems(body, MILESIGHT_CODE_BODY)
    if not samples:  # the spec's GET requests carry no body: fuota's {} is the empty body chapter 1 shows
        return [] if body in ({}, None) else [f"a body {body!r:.60} where the samples have none"]
    allow, used = excuses("milesight", method, path, direction)
    tries = [problems(body, s.json["body"], allow, used=used) for s in samples]
    return min(tries, key=len)


def _query_problems(method: str, url: str) -> list[str]:
    parts = urlsplit(url)
    known = set(ALLOWED_QUERY.get(parts.path, set()))
    for sample in matching("milesight", method, parts.path, "request"):
        known |= {key for key, _ in parse_qsl(urlsplit(sample.json["url"]).query, keep_blank_values=True)}
    sent = {key for key, _ in parse_qsl(parts.query, keep_blank_values=True)}
    return [f"query parameter {key!r}: not in the samples' urls nor the section's table" for key in sent - known]


@PAGINGS
def test_milesight_simulator_answers_and_fuota_asks_as_the_samples(
    milesight: tuple[MilesightSim, MilesightBackend, str, list[str]],
) -> None:
    sim, backend, gateway, devices = milesight
    _milesight_round(sim, backend, gateway, devices)
    excuses = _Excuses()
    found: list[str] = []
    seen: set[tuple[str, str]] = set()
    for exchange in sim.exchanges:
        request: dict[str, Any] = json.loads(exchange.request)
        method, path = request["method"], urlsplit(request["url"]).path
        seen.add((method, path))
        where = f"{method} {path}"
        found += [f"{where} request: {p}" for p in envelope_problems("milesight", "request", request)]
        found += [f"{where} request: {p}" for p in _query_problems(method, request["url"])]
        found += [
            f"{where} request body: {p}"
            for p in _milesight_body_problems(method, path, "request", request.get("body"), excuses)
        ]
        for payload in exchange.answers:
            answer = json.loads(payload)
            found += [f"{where} answer: {p}" for p in envelope_problems("milesight", "response", answer)]
            found += [
                f"{where} answer body: {p}"
                for p in _milesight_body_problems(method, path, "response", answer["body"], excuses)
            ]
    assert sorted(set(found)) == []
    assert set(ENDPOINTS["milesight"]) <= seen
    assert excuses.unused("milesight") == []
