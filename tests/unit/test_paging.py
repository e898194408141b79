"""fuota.backends.paging.collect against every paging reading a server may take (fuota.sim.paging.PageCap).

The oracle is the list itself: whatever the server's page size and reading, `collect` returns every item once, in
order, or raises MalformedAnswer — never a shorter list.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuota.backends.errors import MalformedAnswer
from fuota.backends.paging import Page, collect
from fuota.sim.paging import PageCap

READINGS = ("clamp", "cut", "ignore")


def _numbered_server(items: list[dict], cap: PageCap | None, announce: bool):
    """A pageNo/pageSize server as fuota.sim.iotsquare_codes.page slices, read through `cap`."""
    calls = []

    def fetch(start: int, size: int) -> Page:
        assert start % size == 0, "a numbered page must start on a page boundary"
        query = {"pageNo": start // size + 1, "pageSize": size}
        calls.append(query)
        if cap is not None:
            query = cap.numbered(query)
        number, asked = int(query["pageNo"]), int(query["pageSize"])
        page = items[(number - 1) * asked : number * asked]
        return Page(list(cap.served(page) if cap else page), len(items) if announce else None)

    return fetch, calls


def _offset_server(items: list[dict], cap: PageCap | None, announce: bool):
    def fetch(start: int, size: int) -> Page:
        query = {"offset": str(start), "limit": str(size)}
        if cap is not None:
            query = cap.offset(query)
        offset, limit = int(query["offset"]), int(query["limit"])
        return Page(items[offset : offset + limit], len(items) if announce else None)

    return fetch


def _items(n: int) -> list[dict]:
    return [{"devEUI": f"{i:016x}"} for i in range(n)]


@given(
    n=st.integers(0, 700),
    cap=st.one_of(st.none(), st.integers(1, 150)),
    reading=st.sampled_from(READINGS),
    announce=st.booleans(),
    numbered=st.booleans(),
)
def test_collect_reads_every_item_or_refuses(n: int, cap: int | None, reading: str, announce: bool, numbered: bool):
    items = _items(n)
    policy = None if cap is None else PageCap(cap, reading)  # type: ignore[arg-type]
    fetch = _numbered_server(items, policy, announce)[0] if numbered else _offset_server(items, policy, announce)
    # Without an announced count, a repeated page is the only sign of a server ignoring paging: it is refused
    # even when the list happened to fit one page, since nothing tells that apart from a longer list.
    ignored = policy is not None and reading == "ignore" and n > 0 and (n > cap or not announce)
    if ignored:
        with pytest.raises(MalformedAnswer, match="ignores paging"):
            collect(fetch, 100, "test server", numbered=numbered)
    else:
        assert collect(fetch, 100, "test server", numbered=numbered) == items


def test_a_capped_numbered_server_is_read_in_its_own_page_size():
    fetch, calls = _numbered_server(_items(600), PageCap(50, "cut"), announce=True)
    assert len(collect(fetch, 100, "s", numbered=True)) == 600
    assert calls[0] == {"pageNo": 1, "pageSize": 100}
    assert calls[1:] == [{"pageNo": k, "pageSize": 50} for k in range(2, 13)]


def test_a_list_ending_before_the_announced_count_is_refused_not_returned():
    items = _items(120)

    def fetch(start: int, size: int) -> Page:  # a task deleted between two pages: 120 announced, 119 listed
        return Page(items[start : start + size] if start < 100 else items[start + 1 : start + size], 120)

    with pytest.raises(MalformedAnswer, match="ends after 119 items though the server announces 120"):
        collect(fetch, 100, "s", numbered=False)


def test_the_error_of_a_server_ignoring_paging_names_it_and_the_counts():
    fetch = _offset_server(_items(300), PageCap(40, "ignore"), announce=True)
    with pytest.raises(MalformedAnswer) as caught:
        collect(fetch, 100, "back end 'ms', gateway 24E124FFFE000001, GET /api/urdevices", numbered=False)
    text = str(caught.value)
    assert "GET /api/urdevices" in text and "first 40 items (of 300)" in text and "partial list" in text


def test_page_cap_refuses_nonsense():
    with pytest.raises(ValueError, match="size = 0"):
        PageCap(0)
    with pytest.raises(ValueError, match="reading"):
        PageCap(5, "skip")  # type: ignore[arg-type]
