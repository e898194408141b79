"""One device's TS004 decoder: fragments in any order, the data out once it is determined, never wrong data.

The decoder keeps the uncoded fragments it receives and the coded ones. Nothing is solved until the coded
fragments are at least as many as the uncoded ones missing (before that the data cannot be determined). Then the
coded rows, restricted to the missing columns, are brought to reduced row-echelon form over GF(2), remembering
which received rows each echelon row combines; every later coded fragment is one more row. When every missing
column has a pivot the data is determined: the syndromes of the rows used (coded fragment XOR the known data
under its parity row) are combined by the remembered transforms, which yields the missing fragments at once.
"""

from __future__ import annotations

import numpy as np

from codec.encoder import as_bytes_array
from codec.errors import FragmentError, IncompleteError, PlanError, out_of_range
from codec.gf2 import Echelon, to_words, xor_product
from codec.matrix import parity_rows
from codec.plan import MAX_COUNTER, MAX_FRAG_SIZE, VERSIONS

__all__ = ["Decoder", "first_occurrences"]

_SPARE_ROWS = 32  # coded rows beyond the missing count taken into the first elimination


def first_occurrences(values: np.ndarray) -> np.ndarray:
    """Ascending positions of the first occurrence of each distinct value of the 1-D array `values`.

    What np.unique(values, return_index=True)[1] gives, sorted; np.unique itself imports numpy.ma on its first
    call, which costs a fresh process's first decode about 25 ms.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.ones(len(values), bool)
    new[1:] = ordered[1:] != ordered[:-1]
    return np.sort(order[new])


class Decoder:
    """Reassemble one fragmentation session: nb_frag uncoded fragments of frag_size bytes, TS004 v`version`.

    `push(counter, fragment)` returns True once the data is complete. `complete` says the same, `missing`
    counts the uncoded fragments not yet known, `result()` returns nb_frag·frag_size bytes (padding included).
    """

    def __init__(self, nb_frag: int, frag_size: int, version: int = 1) -> None:
        if isinstance(nb_frag, bool) or not isinstance(nb_frag, int) or not 1 <= nb_frag <= MAX_COUNTER:
            raise out_of_range(PlanError, "nb_frag", nb_frag, f"1..{MAX_COUNTER}")
        if isinstance(frag_size, bool) or not isinstance(frag_size, int) or not 1 <= frag_size <= MAX_FRAG_SIZE:
            raise out_of_range(PlanError, "frag_size", frag_size, f"1..{MAX_FRAG_SIZE} bytes")
        if version not in VERSIONS:
            raise out_of_range(PlanError, "version", version, "1 (TS004 v1.0.0) or 2 (v2.0.0)")
        self.nb_frag, self.frag_size, self.version = nb_frag, frag_size, version
        self._data = np.zeros((nb_frag, frag_size), np.uint8)
        self._seen = bytearray(MAX_COUNTER + 1)
        self._missing = nb_frag
        self._coded_k = np.zeros(64, np.int64)
        self._coded = np.zeros((64, frag_size), np.uint8)
        self._n_coded = 0
        self._solver: Echelon | None = None
        self._columns = np.zeros(0, np.int64)  # the solver's columns: fragments missing when it was built
        self._complete = False

    @property
    def complete(self) -> bool:
        """True once every uncoded fragment is known."""
        return self._complete

    @property
    def missing(self) -> int:
        """The number of uncoded fragments not yet known."""
        return self._missing

    def push(self, counter: int, fragment: bytes | bytearray | memoryview | np.ndarray) -> bool:
        """Take the DataFragment with `counter` (1..16383); return True once the data is complete.

        Duplicates and fragments arriving after completion are ignored.
        """
        if isinstance(counter, bool) or not isinstance(counter, int | np.integer) or not 1 <= counter <= MAX_COUNTER:
            raise out_of_range(FragmentError, "counter", counter, f"1..{MAX_COUNTER}")
        if len(fragment) != self.frag_size:
            raise FragmentError(
                f"fragment {counter} is {len(fragment)} bytes long; this session's fragments are "
                f"{self.frag_size} bytes (FragSize of FragSessionSetupReq)"
            )
        row = as_bytes_array(fragment, "fragment")
        if self._complete or self._seen[counter]:
            return self._complete
        self._seen[counter] = 1
        if counter <= self.nb_frag and self._solver is None:
            # The common case, one uncoded fragment before any elimination, without the batch path's arrays:
            # the per-fragment cost is most of a decode once the rows are generated.
            self._data[counter - 1] = row
            self._missing -= 1
            if self._missing == 0:
                self._mark_complete()
            elif self._n_coded >= self._missing:
                self._try_solve()
        elif counter <= self.nb_frag:
            self._take_uncoded(np.array([counter - 1]), row[None, :])
        else:
            self._take_coded(np.array([counter - self.nb_frag]), row[None, :])
        return self._complete

    def push_many(self, counters: np.ndarray, fragments: np.ndarray) -> bool:
        """Take many fragments at once: `counters` (n,) and `fragments` (n, frag_size) uint8.

        The outcome is the same as pushing them one by one in this order; returns True once complete.
        """
        counters = np.asarray(counters)
        if counters.ndim != 1 or not np.issubdtype(counters.dtype, np.integer):
            raise FragmentError(f"counters must be a 1-D integer array, not {counters.dtype} of shape {counters.shape}")
        bad = (counters < 1) | (counters > MAX_COUNTER)
        if bad.any():
            raise out_of_range(FragmentError, "counter", int(counters[bad][0]), f"1..{MAX_COUNTER}")
        fragments = np.asarray(fragments)
        if fragments.dtype != np.uint8 or fragments.shape != (len(counters), self.frag_size):
            raise FragmentError(
                f"fragments must be a uint8 array of shape ({len(counters)}, {self.frag_size}), "
                f"not {fragments.dtype} {fragments.shape}"
            )
        if self._complete:
            return True
        counters = counters.astype(np.int64)
        first = first_occurrences(counters)
        seen = np.frombuffer(self._seen, np.uint8)  # writes through to the bytearray
        fresh = first[seen[counters[first]] == 0]
        counters, fragments = counters[fresh], fragments[fresh]
        seen[counters] = 1
        uncoded = counters <= self.nb_frag
        if uncoded.any():
            self._take_uncoded(counters[uncoded] - 1, fragments[uncoded])
        if not self._complete and not uncoded.all():
            self._take_coded(counters[~uncoded] - self.nb_frag, fragments[~uncoded])
        return self._complete

    def result(self) -> bytes:
        """The nb_frag·frag_size bytes of the session, padding included; raises IncompleteError before."""
        if not self._complete:
            raise IncompleteError(
                f"the data is not complete: {self._missing} of {self.nb_frag} uncoded fragments are missing and "
                f"the {self._n_coded} coded fragments received cannot recover them; keep pushing fragments"
            )
        return self._data.tobytes()

    def _take_uncoded(self, index: np.ndarray, rows: np.ndarray) -> None:
        self._data[index] = rows
        self._missing -= len(index)
        if self._missing == 0:
            self._mark_complete()
            return
        if self._solver is not None:
            position = np.searchsorted(self._columns, index)
            for column in position.tolist():
                self._solver.forget(column)
        self._try_solve()

    def _take_coded(self, ks: np.ndarray, rows: np.ndarray) -> None:
        start, end = self._n_coded, self._n_coded + len(ks)
        if end > len(self._coded_k):
            size = max(end, 2 * len(self._coded_k))
            self._coded_k = np.resize(self._coded_k, size)
            self._coded = np.concatenate([self._coded, np.zeros((size - len(self._coded), self.frag_size), np.uint8)])
        self._coded_k[start:end] = ks
        self._coded[start:end] = rows
        self._n_coded = end
        if self._solver is None:
            self._try_solve()
            return
        self._solver.grow(end)
        coef = self._coefficients(ks)
        for offset in range(len(ks)):
            row = np.zeros(self._solver.rows.shape[1], np.uint64)
            row[: self._solver.coef_words] = coef[offset]
            item = start + offset
            row[self._solver.coef_words + item // 64] = np.uint64(1 << (item % 64))
            if self._solver.insert(row) and self._solver.solved:
                self._finish(self._solver)
                return

    def _coefficients(self, ks: np.ndarray) -> np.ndarray:
        rows = parity_rows(self.nb_frag, ks, self.version)
        dense = np.unpackbits(rows, axis=1, count=self.nb_frag, bitorder="little").view(bool)
        return to_words(dense[:, self._columns])

    def _try_solve(self) -> None:
        if self._solver is not None:
            if self._solver.solved:
                self._finish(self._solver)
            return
        if self._n_coded < self._missing:
            return
        # All coded rows received so far enter one batch elimination; first only as many as are likely to
        # suffice, all of them if those do not.
        self._columns = np.flatnonzero(~self._known_mask())
        for take in (min(self._n_coded, self._missing + _SPARE_ROWS), self._n_coded):
            coef = self._coefficients(self._coded_k[:take])
            self._solver = Echelon.build(coef, len(self._columns), max(self._n_coded, 64))
            if self._solver.solved or take == self._n_coded:
                break
        if self._solver.solved:
            self._finish(self._solver)

    def _known_mask(self) -> np.ndarray:
        seen = np.frombuffer(self._seen, np.uint8, count=self.nb_frag, offset=1)
        return seen.astype(bool)

    def _finish(self, solver: Echelon) -> None:
        pivots, transforms = solver.transforms()
        used = np.flatnonzero(np.unpackbits(np.bitwise_or.reduce(transforms, axis=0), bitorder="little"))
        used = used[used < self._n_coded]
        rows = parity_rows(self.nb_frag, self._coded_k[used], self.version)
        syndromes = self._coded[used] ^ xor_product(rows, self._data)
        bits = np.unpackbits(transforms, axis=1, bitorder="little")[:, used].view(bool)
        self._data[self._columns[pivots]] = xor_product(np.packbits(bits, axis=1, bitorder="little"), syndromes)
        self._mark_complete()

    def _mark_complete(self) -> None:
        self._missing = 0
        self._complete = True
        self._solver = None
        self._coded = self._coded[:0]
