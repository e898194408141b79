"""Reading a whole list from a server that pages it, whatever page size it really answers.

Both specs page their lists and announce the whole count (IoTSquare: pageNo/pageSize and `amount`, section 1;
Milesight: limit/offset and `total` or `devTotalCount`, 3.3, 6.2, 6.7), and neither says what a server does when
asked for a larger page than it serves. A list that is read short is worse than no list: devices look
never-reported, and a task missing from it looks absent and could be created twice. So `collect`:

- asks page after page until it holds the count the server announces, whatever the length of each page (a short
  page is not the end while more are announced);
- where pages are numbered (IoTSquare), shrinks the page size it asks for to the length the server answered (or
  to a size the items read so far fill exactly, should it answer more than asked), so that page numbers count in
  the server's own pages under every reading: a server that clamps pageSize, and one that slices by the size asked
  but sends only the first part of the slice;
- without an announced count, stops only at an empty page;
- raises MalformedAnswer, never returns a partial list: when the list ends before the announced count, when a
  page repeats the one before it (a server that ignores paging would otherwise be read forever or cut short), or
  past MAX_ITEMS.

MalformedAnswer is transient: the caller's retries read the list again, and a server that keeps answering so fails
its deployment after give_up_after with this explanation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fuota.backends.errors import MalformedAnswer

__all__ = ["MAX_ITEMS", "Page", "collect"]

MAX_ITEMS = 1_000_000  # no fleet list is this long: a server still answering new items past it is looping


@dataclass(frozen=True, slots=True)
class Page:
    """One answer of a list call: its items, and the whole count it announces (None when it announces none)."""

    items: list[dict[str, Any]]
    total: int | None


def collect(fetch: Callable[[int, int], Page], size: int, where: str, *, numbered: bool) -> list[dict[str, Any]]:
    """Every item of a list, read with `fetch(start, size)`: the page of at most `size` items from item `start` on.

    `numbered` pages are asked by number (page = start // size + 1), so `start` is always a multiple of `size`.
    `where` names the server and list in errors.
    """
    items: list[dict[str, Any]] = []
    previous: list[dict[str, Any]] | None = None
    while True:
        page = fetch(len(items), size)
        if not page.items:
            if page.total is not None and len(items) < page.total:
                raise MalformedAnswer(
                    f"{where}: the list ends after {len(items)} items though the server announces {page.total}: "
                    "items may have been removed while it was read; it is read again"
                )
            return items
        if page.items == previous:
            raise MalformedAnswer(
                f"{where}: the server answers the same {len(page.items)} items for the page from item {len(items)} "
                f"as for the one before: it ignores paging, so fuota cannot read past the first "
                f"{len(page.items)} items (of {page.total if page.total is not None else 'an unknown number'}). "
                "Check the server's version with its vendor; fuota will not act on a partial list"
            )
        items.extend(page.items)
        previous = page.items
        if page.total is not None and len(items) >= page.total:
            return items
        if len(items) > MAX_ITEMS:
            raise MalformedAnswer(f"{where}: more than {MAX_ITEMS} items and still more announced: the server loops")
        if numbered and (len(page.items) < size or len(items) % size):
            size = _fitting(len(items), min(size, len(page.items)))


def _fitting(read: int, answered: int) -> int:
    """The largest page size, no larger than the `answered` page, that the `read` items so far fill exactly: the
    next page number then starts right after them."""
    return next(candidate for candidate in range(answered, 0, -1) if read % candidate == 0)
