"""fuota.backends.untrusted: back-end text made inert (control characters, length, secrets) at the adapter's edge."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from fuota.backends.errors import BackendError, RejectedError
from fuota.backends.untrusted import MAX_CHARS, REDACTED, InertBackend, clean, inert
from fuota.core.model import Stage
from fuota.core.reports import DeviceReport, TargetReport

TOKEN = "s3cr3t/t0ken+=="


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain words [kept] as they are", "plain words [kept] as they are"),
        ("clear\x1b[2Jscreen", "clearscreen"),
        ("title\x1b]0;pwn\x07 set", "title set"),
        ("title\x1b]0;pwn\x1b\\ set", "title set"),
        ("link\x1b]8;;http://evil.example\x1b\\x\x1b]8;;\x1b\\", "linkx"),
        ("c1\x9b31mred \x85next", "c1red next"),
        ("bidi \u202eevil\u2066 \u200f", "bidi evil "),
        ("two\r\nlines\nthree", "two lines three"),
        ("nul\x00 bell\x07 del\x7f tab\tkept", "nul bell del tab\tkept"),
    ],
)
def test_control_characters_and_escape_sequences_are_removed(raw: str, expected: str) -> None:
    assert inert(raw) == expected


@pytest.mark.parametrize(
    "form",
    [
        TOKEN,
        quote(TOKEN, safe=""),
        json.dumps(TOKEN)[1:-1],
        base64.b64encode(TOKEN.encode()).decode(),
        base64.urlsafe_b64encode(TOKEN.encode()).decode().rstrip("="),
    ],
)
def test_every_form_of_a_secret_is_redacted(form: str) -> None:
    shown = inert(f"your token {form} is wrong", [TOKEN, None])
    assert TOKEN not in shown and form not in shown and REDACTED in shown


def test_a_secret_split_by_an_escape_is_redacted_once_joined() -> None:
    assert inert(f"{TOKEN[:4]}\x1b[0m{TOKEN[4:]}", [TOKEN]) == REDACTED


def test_short_or_empty_secrets_redact_nothing() -> None:
    assert inert("a bad day", ["", "a", None]) == "a bad day"


def test_the_length_is_bounded_after_redaction() -> None:
    shown = inert("x" * (MAX_CHARS - 5) + TOKEN, [TOKEN])
    assert len(shown) == MAX_CHARS and shown.endswith("…") and TOKEN[:4] not in shown[MAX_CHARS - 10 :]


def test_clean_reaches_into_reports_and_keeps_enums_and_clean_values() -> None:
    report = DeviceReport("0011223344556677", Stage.FAILED, {"msg": f"\x1b[2J{TOKEN}"}, reason=f"refused {TOKEN}")
    cleaned = clean(report, [TOKEN])
    assert cleaned.raw == {"msg": REDACTED} and cleaned.reason == f"refused {REDACTED}"
    assert cleaned.stage is Stage.FAILED
    tidy = DeviceReport("0011223344556677", Stage.DONE, {"code": 0})
    assert clean(tidy, [TOKEN]) is tidy  # nothing to change: the same object, no copy per device per poll


class _Hostile:
    """A back end answering hostile text: a refusal, and a prepared target whose refusals echo the token."""

    name = "hostile"
    keep_tasks = False

    def prepare(self, target: str | None, devices: tuple[str, ...], options: dict[str, object]) -> TargetReport:
        return TargetReport("aa", (), {"0011223344556677": f"refused: \x1b]0;t\x07{TOKEN}"})

    def status(self, ref: object) -> None:
        raise RejectedError(f"fuota/status: 1007 \x1b[2J{TOKEN}: fix it", code=1007, msg=f"\x1b[2J{TOKEN}")

    def delete(self, ref: object) -> bool:
        raise BackendError(f"delete refused: {TOKEN}")


def test_the_inert_backend_cleans_answers_and_errors_keeping_their_type() -> None:
    backend = InertBackend(_Hostile(), lambda: [TOKEN])  # type: ignore[arg-type]
    assert backend.prepare(None, (), {}).refused == {"0011223344556677": f"refused: {REDACTED}"}
    with pytest.raises(RejectedError) as caught:
        backend.status(object())
    assert str(caught.value) == f"fuota/status: 1007 {REDACTED}: fix it"
    assert caught.value.msg == REDACTED and caught.value.code == 1007
    # A method beyond the Backend protocol (a TaskKeeper's) goes through the same edge.
    with pytest.raises(BackendError, match=r"delete refused: \[redacted\]"):
        backend.delete(object())
    assert backend.keep_tasks is False


def test_a_poll_of_clean_reports_comes_back_as_is_and_a_dirty_one_among_them_is_cleaned() -> None:
    reports = [DeviceReport(f"{i:016x}", Stage.RECEIVING, {"code": 0, "msg": "ok"}) for i in range(1000)]
    assert clean(reports, [TOKEN]) is reports
    long = "it's " + "x" * MAX_CHARS  # a quote inside: repr shows it between double quotes
    dirty = [*reports, DeviceReport("ff", Stage.FAILED, {"msg": long}, reason="\x1b[2Jgone")]
    cleaned = clean(dirty, [TOKEN])
    assert cleaned[:-1] == reports and cleaned[-1].reason == "gone" and len(cleaned[-1].raw["msg"]) == MAX_CHARS
