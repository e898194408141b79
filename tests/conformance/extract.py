"""Extract the JSON samples of the endpoints fuota uses from the vendor specs into tests/conformance/samples/.

    python -m tests.conformance.extract            (or: make samples)  rewrite the fixtures from ../shared/specs
    python -m tests.conformance.extract --check    exit 1 when the committed fixtures differ from what it writes

One fixture per vendor (iotsquare.json, milesight.json): every sample request and response of ENDPOINTS, each with
the section it came from (number, title, first and last line), its method and path, the label the spec gives it
(a `//` comment, "1. enquire all devices", …), the JSON value and every repair it needed to be read (see
tests.conformance.lenient, and SPLICES for the repair no rule makes). IoTSquare's "Request Parameter" tables
are kept too, labelled "table", as an object of their fields each holding a value of its type: its GET requests
and fuota/abort have no sample but the table. Milesight's chapter 1 envelope
("Request Format", "Response Format") is kept too, under method and path null.

ENDPOINTS must hold every path the adapters send (the string constants of fuota/backends/*/adapter.py and
http.py starting with /openapi/ or /api/): a path added there and not here stops the script, so that no endpoint
fuota uses goes without its samples.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conformance.lenient import documents

__all__ = ["ENDPOINTS", "FIXTURES", "SPECS", "extract", "main"]

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT.parent / "shared" / "specs"
FIXTURES = Path(__file__).resolve().parent / "samples"

# The endpoints fuota calls, by vendor: (method, path) → the adapter methods that call it.
ENDPOINTS: dict[str, dict[tuple[str, str], str]] = {
    "iotsquare": {
        ("GET", "/openapi/device/status"): "registered",
        ("GET", "/openapi/mcgroup/list"): "reachable, _is_ours",
        ("POST", "/openapi/mcgroup/create"): "prepare (temporary group)",
        ("POST", "/openapi/mcgroup/delete"): "cleanup",
        ("GET", "/openapi/mcdevice/list"): "ready, prepare (existing group)",
        ("POST", "/openapi/mcdevice/create"): "prepare (temporary group)",
        ("POST", "/openapi/fuota/create"): "create",
        ("GET", "/openapi/fuota/list"): "find, create",
        ("GET", "/openapi/fuota/status"): "status",
        ("GET", "/openapi/fuota/device/list"): "devices",
        ("POST", "/openapi/fuota/abort"): "abort",
    },
    "milesight": {
        ("GET", "/api/urdevices"): "locate, prepare",
        ("POST", "/api/fuota/task"): "create",
        ("GET", "/api/fuota/task"): "find, status, retry",
        ("POST", "/api/fuota/task/delete"): "abort",
        ("POST", "/api/fuota/task/retry"): "retry",
        ("GET", "/api/fuota/task/payloadsize"): "payload_size, task_options",
        ("GET", "/api/fuota/devices"): "devices",
    },
}

SOURCES = {"iotsquare": "iotsquare-openapi.md", "milesight": "milesight-mqtt-api.txt"}
ADAPTERS = {"iotsquare": ("adapter.py", "http.py"), "milesight": ("adapter.py", "mqtt.py")}

# Repairs no rule of tests.conformance.lenient makes: (vendor, section) → [(text, replacement, why)].
SPLICES: dict[tuple[str, str], list[tuple[str, str, str]]] = {
    ("milesight", "6.6"): [
        (
            '    }\n  ],\n  {\n    "dr": 2,',
            '    },\n\n  {\n    "dr": 2,',  # the same number of lines: the samples' line numbers stay the spec's
            "maxPayloadSizeMap is closed after dr 1 though dr 2–5 follow, before the ']' that really closes it: "
            "the early '],' read as ','",
        )
    ],
}


# The line before a sample: "Request Example", "**Request Response：**", "Response Format", …
_LABEL = re.compile(r"Request (?:Example|Format|Parameter)|Request Response|Response (?:Example|Format)")


@dataclass(frozen=True, slots=True)
class _Section:
    number: str
    title: str
    first_line: int
    lines: list[str]


def _sections(vendor: str, text: str) -> list[_Section]:
    if vendor == "iotsquare":
        heading = re.compile(r"^#{1,3} (\d+(?:\.\d+)*)\.? (.+?)\s*$")
    else:  # a table-of-contents line ends in a tab and its page number
        heading = re.compile(r"^(\d+)\. ([A-Z][^\t]*?)\s*$|^(\d+\.\d+) ([A-Z][^\t]*?)\s*$")
    found: list[_Section] = []
    for index, line in enumerate(text.splitlines()):
        match = heading.match(line)
        if match and "\t" not in line:
            number, title = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
            found.append(_Section(number, title, index + 1, []))
        elif found:
            found[-1].lines.append(line)
    return found


def _endpoint(vendor: str, section: _Section) -> tuple[str | None, str | None]:
    body = "\n".join(section.lines)
    method = re.search(r"(?:Request )?Method: ?(GET|POST|PUT|DELETE)", body)
    prefix = "/openapi/" if vendor == "iotsquare" else "/api/"
    path = re.search(rf"URL\W*[^\n]*?({re.escape(prefix)}[\w/{{}}-]+)", body)
    return (method and method.group(1)), (path and path.group(1).rstrip("/"))


def _runs(section: _Section) -> list[tuple[str, str, list[tuple[int, str]]]]:
    """(direction, label, code blocks) of every run of code blocks separated by blank lines only; the label is the
    text of the line before the run ("1. enquire all devices"), or what follows the colon of "Request Example:"."""
    runs: list[tuple[str, str, list[tuple[int, str]]]] = []
    direction, label = "", ""
    inside, block, start, gap_only = False, [], 0, False
    for offset, line in enumerate(section.lines):
        number = section.first_line + 1 + offset
        if line.strip().startswith("```"):
            if inside:
                if gap_only and runs:
                    runs[-1][2].append((start, "\n".join(block)))
                else:
                    runs.append((direction, label, [(start, "\n".join(block))]))
                inside, gap_only = False, True
            else:
                inside, block, start = True, [], number + 1
        elif inside:
            block.append(line)
        elif line.strip():
            gap_only = False
            words = line.strip().strip("*").strip().rstrip(":：").strip()
            heading = _LABEL.match(words)
            if heading:
                direction = "response" if "Response" in heading.group() else "request"
                label = words[heading.end() :].lstrip(" :：")
            else:
                label = words
    return runs


# A table's type as the value a sample would hold (tests.conformance.shapes compares kinds, not values); a map's
# keys are the user's own, so it is null: anything.
_TABLE_TYPES: dict[str, object] = {"string": "", "int": 0, "int64": 0, "float64": 0.0, "bool": False, "[]string": [""]}


def _request_table(section: _Section) -> tuple[int, dict[str, object]] | None:
    """IoTSquare: the section's "Request Parameter" table as {field: a value of its type}, with its first line."""
    rows: dict[str, object] = {}
    first, inside = 0, False
    for offset, line in enumerate(section.lines):
        words = line.strip().strip("*").strip()
        if words.startswith("Request Parameter"):
            inside = True
        elif inside and (
            words.startswith(("Response Parameter", "Precautions", "Sample Data")) or line.startswith("#")
        ):
            break
        elif inside and line.startswith("|") and not set(line) <= set("|-: "):
            name, kind = (cell.strip() for cell in line.strip("|").split("|")[:2])
            if name != "Field Name":
                first = first or section.first_line + 1 + offset
                rows[name] = _TABLE_TYPES.get(kind)
    return (first, rows) if rows else None


def _fixture(vendor: str) -> dict[str, object]:
    text = (SPECS / SOURCES[vendor]).read_text(encoding="utf-8")
    wanted = ENDPOINTS[vendor]
    samples: list[dict[str, object]] = []
    for section in _sections(vendor, text):
        method, path = _endpoint(vendor, section)
        envelope = vendor == "milesight" and section.number == "1"
        if not envelope and (method, path) not in wanted:
            continue
        spliced: list[tuple[int, str]] = []  # (line, why)
        for old, new, why in SPLICES.get((vendor, section.number), []):
            joined = "\n".join(section.lines)
            if joined.count(old) != 1 or old.count("\n") != new.count("\n"):
                raise SystemExit(f"{vendor} {section.number}: the splice for {why!r} no longer matches the spec")
            line = section.first_line + 1 + joined[: joined.index(old)].count("\n")
            section.lines[:] = joined.replace(old, new).split("\n")
            spliced.append((line, f"line {line}: spliced: {why}"))
        if vendor == "iotsquare" and (table := _request_table(section)) is not None:
            first, rows = table
            samples.append(
                {
                    "section": section.number,
                    "title": section.title,
                    "method": method,
                    "path": path,
                    "direction": "request",
                    "label": "table",
                    "lines": [first, first + len(rows) - 1],
                    "repairs": ["built from the Request Parameter table: each field holds a value of its type"],
                    "json": rows,
                }
            )
        for direction, label, blocks in _runs(section):
            if not direction:
                continue
            for doc in documents(blocks):
                samples.append(
                    {
                        "section": section.number,
                        "title": section.title,
                        "method": None if envelope else method,
                        "path": None if envelope else path,
                        "direction": direction,
                        "label": doc.label or label,
                        "lines": [doc.first_line, doc.last_line],
                        "repairs": [why for line, why in spliced if doc.first_line <= line <= doc.last_line]
                        + doc.repairs,
                        "json": doc.value,
                    }
                )
    return {
        "source": f"../shared/specs/{SOURCES[vendor]}",
        "written_by": "python -m tests.conformance.extract (make samples): do not edit by hand",
        "samples": samples,
    }


def adapter_paths(vendor: str) -> set[str]:
    """The endpoint paths written in the vendor's adapter modules."""
    folder = ROOT / "fuota" / "backends" / vendor
    prefix = "/openapi/" if vendor == "iotsquare" else "/api/"
    found: set[str] = set()
    for name in ADAPTERS[vendor]:
        found |= set(re.findall(rf'"({re.escape(prefix)}[\w/]+)"', (folder / name).read_text(encoding="utf-8")))
    return found


def extract() -> dict[str, str]:
    """{file name: its JSON text} of every fixture, from the specs as they are now."""
    for vendor, endpoints in ENDPOINTS.items():
        missing = adapter_paths(vendor) - {path for _, path in endpoints}
        if missing:
            raise SystemExit(f"{vendor}: the adapter sends {', '.join(sorted(missing))}: add it to ENDPOINTS")
    return {f"{vendor}.json": json.dumps(_fixture(vendor), indent=1, ensure_ascii=False) + "\n" for vendor in SOURCES}


def main(argv: list[str] | None = None) -> int:
    """Write the fixtures, or with --check say which differ from the specs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed fixtures, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, text in extract().items():
        target = FIXTURES / name
        if args.check:
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            FIXTURES.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale fixtures: {', '.join(stale)}: run make samples and commit them", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
