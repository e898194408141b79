"""Text a back end sends is untrusted: made inert where it enters fuota, before anything stores, logs or shows it.

    inert(text, secrets)       the text without control characters (C0 but tab, C1, ESC and OSC sequences, bidi
                               overrides and isolates), at most MAX_CHARS long, every secret replaced by [redacted]
    clean(value, secrets)      inert() over every string inside a value: dataclasses, lists, tuples, dicts
    InertBackend               a Backend whose every call's results and BackendError messages went through clean()

A back end may answer Rich markup (`[link=http://evil.example]…`), terminal escapes (`\\x1b[2J`, an OSC title) or
echo the token it was sent in its `msg`: stored raw, each would reach a terminal, a log or a page. Rich markup is
not removed here (it is plain text, and the brackets may be the back end's own words): every Rich output escapes
what it shows (rich.markup.escape). Secrets are also redacted in the forms a server is likely to echo them in:
URL-encoded, base64 and JSON-escaped.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

from fuota.backends.base import Backend
from fuota.backends.errors import BackendError
from fuota.core.settings import ConfigError

__all__ = ["MAX_CHARS", "REDACTED", "InertBackend", "clean", "inert"]

MAX_CHARS = 1000  # a back end's message or reason longer than this says nothing more a person reads
REDACTED = "[redacted]"
_MIN_SECRET = 4  # shorter "secrets" would redact ordinary words

# ESC sequences first (whole, so their parameters do not stay behind as text): CSI, OSC (ended by BEL or ST), other
# two-character escapes; then single control characters, C1, and the bidi overrides/isolates that reorder a line.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]?|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?|\x9b[0-?]*[ -/]*[@-~]?")
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

T = TypeVar("T")


def _forms(secret: str) -> set[str]:
    """The secret and the forms a server may echo it in."""
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    forms |= {base64.b64encode(raw).decode().rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    return {form for form in forms if len(form) >= _MIN_SECRET}


def _variants(secrets: Iterable[str | None]) -> list[str]:
    forms = set().union(*(_forms(s) for s in secrets if s and len(s) >= _MIN_SECRET))
    return sorted(forms, key=len, reverse=True)  # longest first: a form containing another is redacted whole


def inert(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` safe to store, log and print: no control character (tab kept), at most MAX_CHARS characters, each
    configured secret (and its URL-encoded, base64 and JSON-escaped forms) replaced by [redacted]."""
    return _inert(text, _variants(secrets))


def _inert(text: str, variants: list[str]) -> str:
    if not (text.isprintable() and text.isascii()) or any(v in text for v in variants):
        # A line break becomes a space: the words on either side stay apart, and a reason stays one line.
        text = _CONTROLS.sub("", _ESCAPES.sub("", text).replace("\r\n", " ").replace("\n", " ").replace("\r", " "))
        # Redacted before the cut, so that a cut cannot leave a secret's prefix no form matches.
        for variant in variants:
            text = text.replace(variant, REDACTED)
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS - 1] + "…"
    return text


def clean(value: T, secrets: Iterable[str | None] = ()) -> T:
    """`value` with inert() applied to every string in it (dataclass fields, list/tuple items, dict keys and
    values); other values unchanged."""
    return _answer(value, _variants(secrets))


def _answer(value: Any, variants: list[str]) -> Any:
    """_clean, with a fast path for the usual clean answer (100 000 device reports in a poll): its repr, made in C
    for strings, dicts and lists, is pure ASCII without a backslash (repr writes every control character as one) or a
    double quote (so every string is between single quotes, none inside), holds no secret and nothing between two
    single quotes longer than MAX_CHARS; then nothing in it needs cleaning. Taken only when every repr in it is
    faithful: plain values, or dataclasses with their generated repr."""
    faithful = all(not any(c in v for c in "'\\\"") for v in variants) and (
        isinstance(value, str | dict)
        or (isinstance(value, list) and all(map(_faithful_repr, {type(item) for item in value})))
        or _faithful_repr(type(value))
    )
    if faithful:
        shown = repr(value)
        plain = shown.isascii() and "\\" not in shown and '"' not in shown
        if plain and not any(v in shown for v in variants) and max(map(len, shown.split("'"))) <= MAX_CHARS:
            return value
    return _clean(value, variants)


def _faithful_repr(kind: type) -> bool:
    """Whether a value of `kind` shows every string it holds in its repr: a plain value, or a dataclass whose repr
    is the generated one and whose every field is in it."""
    if kind in (str, int, float, bool, type(None), dict, list, tuple):
        return True
    params = getattr(kind, "__dataclass_params__", None)
    return params is not None and params.repr and all(f.repr for f in dataclasses.fields(kind))


def _dirty(value: Any, variants: list[str]) -> bool:
    """Whether inert() would change a string somewhere in `value`: the cheap question asked of every answer."""
    if isinstance(value, str):
        return (
            len(value) > MAX_CHARS
            or not (value.isascii() and value.isprintable())
            or any(variant in value for variant in variants)
        )
    if isinstance(value, dict):
        return any(_dirty(k, variants) or _dirty(v, variants) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_dirty(item, variants) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_dirty(getattr(value, name), variants) for name in _init_fields(type(value)))
    return False


@functools.cache
def _init_fields(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind) if f.init)


def _clean(value: Any, variants: list[str]) -> Any:
    # Rebuilt only where something changes: the usual answer is clean, and a poll may hold 100 000 devices.
    if not _dirty(value, variants):
        return value
    if isinstance(value, str):
        return _inert(value, variants)
    if isinstance(value, list):
        return [_clean(item, variants) for item in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_clean(item, variants) for item in value)
    if isinstance(value, dict):
        return {_clean(k, variants): _clean(v, variants) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(
            value, **{name: _clean(getattr(value, name), variants) for name in _init_fields(type(value))}
        )
    return value


class InertBackend:
    """A Backend whose results and errors are made inert with the back end's configured secrets: the edge where
    back-end text enters fuota. Errors keep their type and traceback; their message and `msg` are rewritten."""

    def __init__(self, inner: Backend, secrets: Callable[[], Iterable[str | None]]) -> None:
        self.inner, self._secrets = inner, secrets
        self.name = inner.name

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self.inner, attribute)
        if callable(value):
            return lambda *args, **kwargs: self._call(value, *args, **kwargs)
        return value

    def _call(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            result = call(*args, **kwargs)
        except BackendError as exc:
            variants = self._variants()
            exc.args = tuple(_clean(arg, variants) for arg in exc.args)
            exc.msg = None if exc.msg is None else _inert(exc.msg, variants)
            raise
        return _answer(result, self._variants())

    def _variants(self) -> list[str]:
        try:
            return _variants(self._secrets())
        except ConfigError:  # a secret unreadable now (a file being rotated) must not hide the answer itself
            return []

    def prepare(self, target: str | None, devices: tuple[str, ...], options: dict[str, object]) -> Any:
        """Backend.prepare, inert."""
        return self._call(self.inner.prepare, target, devices, options)

    def ready(self, target: str) -> Any:
        """Backend.ready, inert."""
        return self._call(self.inner.ready, target)

    def find(self, spec: Any) -> Any:
        """Backend.find, inert."""
        return self._call(self.inner.find, spec)

    def create(self, spec: Any) -> Any:
        """Backend.create, inert."""
        return self._call(self.inner.create, spec)

    def status(self, ref: Any) -> Any:
        """Backend.status, inert."""
        return self._call(self.inner.status, ref)

    def devices(self, ref: Any) -> Any:
        """Backend.devices, inert."""
        return self._call(self.inner.devices, ref)

    def abort(self, ref: Any) -> None:
        """Backend.abort, inert."""
        self._call(self.inner.abort, ref)

    def cleanup(self, target: Any) -> None:
        """Backend.cleanup, inert."""
        self._call(self.inner.cleanup, target)

    def close(self) -> None:
        """Close the wrapped back end."""
        self.inner.close()
