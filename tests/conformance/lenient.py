"""Read the JSON samples of the vendor specs as they are written, repairing what a strict parser refuses.

The specs were converted from PDF and web pages: their samples carry `//` comments, trailing commas, strings cut
across lines, page breaks that split one sample over several code blocks (the converter closing every bracket at
the end of each piece) and brackets that went missing or doubled. `documents` reads a run of code blocks into
the JSON values they hold and says, for each, every repair it made — so that a fixture records how far it is
from the letter of the spec. Text it cannot read at all raises ValueError naming the line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

__all__ = ["Document", "documents"]

_SCALAR = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")
_PAIRS = {"}": "{", "]": "["}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # one of { } [ ] : , string scalar comment
    text: str  # the string's value, the scalar's JSON text, the comment's text
    line: int
    notes: tuple[str, ...] = ()  # repairs made while reading it, told to the document it belongs to


@dataclass
class Document:
    """One JSON value of the run: its first and last line, the comment that labels it, every repair made."""

    value: object = None
    first_line: int = 0
    last_line: int = 0
    label: str = ""
    repairs: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)  # comments inside the value, removed


def _tokens(text: str, first_line: int) -> list[_Token]:
    out: list[_Token] = []
    i, line = 0, first_line
    while i < len(text):
        char = text[i]
        if char == "\n":
            line += 1
            i += 1
        elif char.isspace():
            i += 1
        elif char in "{}[]:,":
            out.append(_Token(char, char, line))
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append(_Token("comment", text[i + 2 : end].strip(), line))
            i = end
        elif char == '"':
            end = i + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            raw, notes = text[i + 1 : end], ()
            if "\n" in raw:
                notes = (f"line {line}: a string cut across lines joined (the spec's line break removed)",)
                raw = re.sub(r"[ \t]*\n[ \t]*", "", raw)
            out.append(_Token("string", json.loads(f'"{raw}"'), line, notes))
            line += text.count("\n", i, end)
            i = end + 1
        elif match := _SCALAR.match(text, i):
            out.append(_Token("scalar", match.group(), line))
            i = match.end()
        else:
            raise ValueError(f"line {line}: {text[i : i + 20]!r} is no JSON, comment or bracket")
    return out


def _is_key(tokens: list[_Token], index: int) -> bool:
    return index + 1 < len(tokens) and tokens[index].kind == "string" and tokens[index + 1].kind == ":"


def _joined(blocks: list[tuple[int, str]]) -> list[_Token]:
    """The tokens of the blocks in order; a block that goes on where the last stopped (it opens with a key) drops
    the closing brackets the converter put at the end of the one before."""
    tokens: list[_Token] = []
    for number, (first_line, text) in enumerate(blocks):
        more = _tokens(text, first_line)
        if number and more:
            notes = [f"line {more[0].line}: code block {number + 1} of the run goes on from block {number}"]
            if _is_key(more, 0):
                dropped = 0
                while tokens and tokens[-1].kind in "}]":
                    tokens.pop()
                    dropped += 1
                if dropped:
                    notes.append(f"line {more[0].line}: {dropped} bracket(s) closing block {number} early removed")
            more[0] = _Token(more[0].kind, more[0].text, more[0].line, (*notes, *more[0].notes))
        tokens.extend(more)
    return tokens


class _Builder:
    """A bracket stack over the tokens that completes a value wherever the text lets one be meant."""

    def __init__(self) -> None:
        self.done: list[Document] = []
        self.stack: list[tuple[str, object, str | None]] = []  # ("{", dict, its key in its parent) or ("[", …)
        self.key: str | None = None
        self.after_value = False
        self.after_comma = False
        self.current = Document()

    def feed(self, token: _Token) -> None:
        self.current.repairs.extend(token.notes)
        note = self.current.repairs.append
        if token.kind == "comment":
            if self.stack:
                self.current.comments.append(token.text)
                note(f"line {token.line}: comment removed: // {token.text}")
            else:
                self.current.label = " ".join(filter(None, (self.current.label, token.text)))
            return
        if not self.stack and token.kind in "}]":
            owner = self.done[-1] if self.done else self.current  # the value it follows
            owner.repairs.append(f"line {token.line}: a '{token.kind}' closing nothing removed")
            return
        if self.after_value and self.stack and token.kind in ("{", "[", "string", "scalar"):
            note(f"line {token.line}: missing ',' inserted")
        if token.kind in "{[":
            if not self.stack:
                self.current.first_line = token.line
            self.stack.append((token.kind, {} if token.kind == "{" else [], self.key))
            self._reset()
        elif token.kind in "}]":
            if self.stack[-1][0] != _PAIRS[token.kind]:
                note(f"line {token.line}: a '{token.kind}' not matching its '{self.stack[-1][0]}' removed")
                return
            if self.after_comma:
                note(f"line {token.line}: trailing ',' removed")
            _, value, self.key = self.stack.pop()
            self._value(value, token.line)
        elif token.kind == ",":
            self.after_comma, self.after_value = True, False
        elif token.kind == ":":
            pass  # the key was taken when its string came
        elif token.kind == "string" and self._expects_key():
            self.key = token.text
            self.after_value = self.after_comma = False
        else:
            self._value(token.text if token.kind == "string" else json.loads(token.text), token.line)

    def _expects_key(self) -> bool:
        return bool(self.stack) and self.stack[-1][0] == "{" and self.key is None

    def _reset(self) -> None:
        self.key, self.after_value, self.after_comma = None, False, False

    def _value(self, value: object, line: int) -> None:
        if not self.stack:
            self.current.value, self.current.last_line = value, line
            self.done.append(self.current)
            self.current = Document()
            self._reset()
            return
        kind, container, _ = self.stack[-1]
        if kind == "{":
            assert isinstance(container, dict)
            if self.key is None:
                raise ValueError(f"line {line}: a value where an object expects a key")
            if self.key in container:
                before = container[self.key]
                self.current.repairs.append(
                    f"line {line}: key {self.key!r} twice ({before!r}, {value!r}): the later kept"
                )
            container[self.key] = value
        else:
            assert isinstance(container, list)
            container.append(value)
        self.key, self.after_value, self.after_comma = None, True, False

    def finish(self, line: int) -> None:
        while self.stack:
            self.current.repairs.append(f"line {line}: missing '{'}' if self.stack[-1][0] == '{' else ']'}' appended")
            _, value, self.key = self.stack.pop()
            self._value(value, line)


def documents(blocks: list[tuple[int, str]]) -> list[Document]:
    """The JSON values of a run of code blocks ((first line, text) each), with the repairs each needed."""
    tokens = _joined(blocks)
    builder = _Builder()
    for token in tokens:
        builder.feed(token)
    builder.finish(tokens[-1].line if tokens else 0)
    return builder.done
