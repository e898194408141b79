"""How a simulated server pages its lists, for each reading the specs leave open.

IoTSquare pages by pageNo/pageSize (section 1) and Milesight by limit/offset (3.3); both announce the whole count.
Neither spec says what a server does when asked for a larger page than it serves. `PageCap` plays each reading,
so that fuota's reader (fuota.backends.paging) is tested against all of them:

    clamp    the server serves at most `size` items a page and counts numbered pages in its own size
             (IoTSquare pageNo=2 is then items size..2·size−1 whatever pageSize asked)
    cut      it slices by the size asked, then sends only the first `size` items of that slice: the rest of a numbered
             page is never listed, so only a client that asks pages no larger than the server's reads every item
    ignore   it ignores paging altogether and always answers the list's first `size` items

With limit/offset, clamp and cut are the same: the next page starts where the client asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["PageCap"]


@dataclass(frozen=True, slots=True)
class PageCap:
    """A server that answers at most `size` items a page, paging as `reading` says (see the module docstring)."""

    size: int
    reading: Literal["clamp", "cut", "ignore"] = "clamp"

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"PageCap size = {self.size}: a page holds at least 1 item")
        if self.reading not in ("clamp", "cut", "ignore"):
            raise ValueError(f"PageCap reading = {self.reading!r}: one of clamp, cut, ignore")

    def numbered(self, query: Mapping[str, object]) -> dict[str, object]:
        """A pageNo/pageSize query as the server reads it (only queries that page are changed)."""
        if "pageNo" not in query and "pageSize" not in query:
            return dict(query)
        if self.reading == "ignore":
            return {**query, "pageNo": 1, "pageSize": self.size}
        if self.reading == "clamp":
            return {**query, "pageSize": min(_whole(query.get("pageSize"), self.size), self.size)}
        return dict(query)

    def offset(self, query: Mapping[str, str]) -> dict[str, str]:
        """A limit/offset query as the server reads it."""
        limit = min(_whole(query.get("limit"), self.size), self.size)
        if self.reading == "ignore":
            return {**query, "offset": "0", "limit": str(self.size)}
        return {**query, "limit": str(limit)}

    def served(self, items: object) -> object:
        """The items sent of a page the server sliced (`cut` drops what is over `size`)."""
        if self.reading == "cut" and isinstance(items, list):
            return items[: self.size]
        return items


def _whole(value: object, default: int) -> int:
    """The query's number, or `default` where it is none (the server's own checks refuse it later)."""
    try:
        return int(str(value))
    except ValueError:
        return default
