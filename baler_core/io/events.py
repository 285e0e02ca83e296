"""HEP events as they are stored: ROOT TTrees and RNTuples read and written whole, never flattened.

An event file holds per-event branches (``run``, ``MET_pt``) and collections: branches that share a counter
(TTree: ``nJet`` + ``Jet_pt``, ``Jet_eta`` ...; RNTuple: a record collection ``Jet`` with fields ``pt``,
``eta`` ...). :class:`Events` keeps them apart: one table of per-event values (the counters included, so every
event, also an empty one, keeps its count) and one table of objects per collection, plus what it takes to write
the file back with the same tree name, branch names, order, counters and dtypes.
"""

from __future__ import annotations

import fnmatch
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.errors import InputError

LAYOUTS = ("ttree", "rntuple")
EVENT_PART = "(per event)"  # the name of the per-event table among an event file's parts
EVENT_CHUNK = 500_000  # entries read at a time when compressing (one chunk of one part in memory)
ROOT_BASKET_EVENTS = 100_000  # TTree entries per basket written, so readers can stream the output


@dataclass
class Collection:
    """Objects of one kind (jets, muons): ``objects`` has one row per object, its columns the branches' names
    (``Jet_pt`` in a TTree, ``Jet.pt`` in an RNTuple); ``counter`` names the per-event count column."""

    name: str
    counter: str
    fields: list[str]
    branches: list[str]
    objects: pd.DataFrame


@dataclass
class Events:
    """One tree's events: ``per_event`` (one row per event; the counters are columns of it) and collections."""

    tree: str
    layout: str
    per_event: pd.DataFrame
    collections: list[Collection] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # top-level names as read: branches, counters, collections
    synthetic_counters: list[str] = field(default_factory=list)  # counters an RNTuple does not store as fields

    @property
    def n_events(self) -> int:
        return len(self.per_event)

    def counts(self, c: Collection) -> np.ndarray:
        return self.per_event[c.counter].to_numpy().astype(np.int64)

    def raw_bytes(self) -> int:
        """Every value once: per-event values, counters and objects (what the file stores, not a flattening)."""
        tables = [self.per_event, *(c.objects for c in self.collections)]
        return int(sum(t[col].dtype.itemsize * len(t) for t in tables for col in t.columns))

    def parts(self) -> list[tuple[str, pd.DataFrame]]:
        """The tables events are stored as: the per-event values (counters included), then each collection's
        objects."""
        return [(EVENT_PART, self.per_event), *((c.name, c.objects) for c in self.collections)]

    def select(self, index: np.ndarray) -> Events:
        """The events at ``index`` (ascending), each with all of its objects."""
        index = np.asarray(index, dtype=np.int64)
        per_event = self.per_event.iloc[index].reset_index(drop=True)
        collections = []
        for c in self.collections:
            counts = self.counts(c)
            starts, kept = np.cumsum(counts) - counts, counts[index]
            # object j of the selection is object j - (its event's start in the selection) + (the same in all)
            rows = np.arange(int(kept.sum())) + np.repeat(starts[index] - (np.cumsum(kept) - kept), kept)
            collections.append(Collection(c.name, c.counter, c.fields, c.branches,
                                          c.objects.iloc[rows].reset_index(drop=True)))
        return Events(self.tree, self.layout, per_event, collections, self.order, self.synthetic_counters)

    def check(self, source: str) -> None:
        """Counts agree with the objects; raises InputError naming the collection otherwise."""
        for c in self.collections:
            counts = self.counts(c)
            if counts.min(initial=0) < 0 or int(counts.sum()) != len(c.objects):
                raise InputError(f"{source}: collection {c.name!r}: counter {c.counter!r} sums to "
                                 f"{int(counts.sum())} but there are {len(c.objects)} objects")


def _leaf_dtype(array, name: str, source: str, jagged: bool) -> np.dtype:
    """The numpy dtype of a flat or singly jagged numeric branch; anything else is refused by name."""
    import awkward as ak

    depth = array.ndim
    if depth > (2 if jagged else 1):
        raise InputError(f"{source}: branch {name!r} is nested {depth - 1} levels deep ({array.type}); baler "
                         "stores per-event values and one level of per-object values")
    try:
        content = ak.to_numpy(ak.flatten(array, axis=None)[:0])
    except Exception as exc:
        raise InputError(f"{source}: branch {name!r} has a type baler cannot store ({array.type})") from exc
    if content.dtype.kind not in "biuf" or content.dtype.itemsize > 8:
        raise InputError(f"{source}: branch {name!r} has type {array.type}; baler stores bool, integer and float "
                         "branches of at most 64 bits")
    return content.dtype.newbyteorder("=")


def _flat(array, dtype: np.dtype):
    import awkward as ak

    return ak.to_numpy(ak.flatten(array, axis=None)).astype(dtype, copy=False)


def _match(available: list[str], patterns: list[str] | None, source: str) -> list[str]:
    if not patterns:
        return list(available)
    chosen: list[str] = []
    for pattern in patterns:
        hits = fnmatch.filter(available, pattern) if any(ch in pattern for ch in "*?[") else (
            [pattern] if pattern in available else [])
        if not hits:
            raise InputError(f"{source}: branch {pattern!r} matches nothing; branches: {', '.join(available)}")
        chosen.extend(h for h in hits if h not in chosen)
    return chosen


def _collection_name(counter: str, branches: list[str]) -> tuple[str, list[str]]:
    """``nJet`` + ``Jet_pt``, ``Jet_eta`` -> ``Jet`` and fields ``pt``, ``eta`` (NanoAOD's naming); branches
    without a common ``prefix_`` keep their whole names as fields."""
    prefix = counter[1:] if counter[:1] in ("n", "N") and len(counter) > 1 else counter
    if all(b.startswith(prefix + "_") and len(b) > len(prefix) + 1 for b in branches):
        return prefix, [b[len(prefix) + 1:] for b in branches]
    return prefix, list(branches)


def _read_ttree(ttree, patterns: list[str] | None, cut: str | None, source: str,
                entries: tuple[int | None, int | None] = (None, None)) -> Events:
    from uproot.interpretation.jagged import AsJagged
    from uproot.interpretation.objects import AsObjects

    names = _match(list(ttree.keys()), patterns, source)
    groups: dict[str, list[str]] = {}  # counter -> jagged branches
    flat: list[str] = []
    for n in names:
        cb = ttree[n].count_branch
        if cb is not None:
            groups.setdefault(cb.name, []).append(n)
        elif isinstance(ttree[n].interpretation, (AsJagged, AsObjects)):
            raise InputError(f"{source}: branch {n!r} ({ttree[n].typename}) has no counter branch; baler reads "
                             "collections of branches that share a counter such as nJet")
        else:
            flat.append(n)
    counters = [c for c in groups if c not in flat]
    read = [*flat, *counters, *(b for g in groups.values() for b in g)]
    try:
        arrays = ttree.arrays(read, cut=cut, library="ak", entry_start=entries[0], entry_stop=entries[1])
    except Exception as exc:
        raise InputError(f"{source}: cannot read branches ({type(exc).__name__}: {exc})") from exc
    per_event = {n: _flat(arrays[n], _leaf_dtype(arrays[n], n, source, False)) for n in [*flat, *counters]}
    collections = []
    for counter, branches in groups.items():
        cname, fields = _collection_name(counter, branches)
        objects = {b: _flat(arrays[b], _leaf_dtype(arrays[b], b, source, True)) for b in branches}
        collections.append(Collection(cname, counter, fields, branches, pd.DataFrame(objects)))
    order = []
    for n in names:  # a counter goes where the tree had it, or right before its collection's first branch
        cb = ttree[n].count_branch
        if cb is not None and cb.name not in order:
            order.append(cb.name)
        if n not in order:
            order.append(n)
    ev = Events(ttree.name, "ttree", pd.DataFrame(per_event), collections, order)
    ev.check(source)
    return ev


def _read_rntuple(rnt, patterns: list[str] | None, cut: str | None, source: str,
                  entries: tuple[int | None, int | None] = (None, None)) -> Events:
    import awkward as ak

    if cut:
        raise InputError(f"{source}: --cut is supported for TTrees, not RNTuples")
    top = [f.name for f in rnt.fields]
    names = _match(top, patterns, source)
    try:
        arrays = rnt.arrays(filter_name=lambda n: n.split(".")[0] in names, entry_start=entries[0],
                            entry_stop=entries[1])
    except Exception as exc:
        raise InputError(f"{source}: cannot read fields ({type(exc).__name__}: {exc})") from exc
    per_event: dict[str, np.ndarray] = {}
    collections, synthetic = [], []
    for n in names:
        a = arrays[n]
        if a.ndim == 1 and not a.fields:
            per_event[n] = _flat(a, _leaf_dtype(a, n, source, False))
            continue
        if a.ndim != 2:
            raise InputError(f"{source}: field {n!r} has type {a.type}; baler stores per-event values and "
                             "collections of one level")
        subfields = a.fields or [""]
        counter = f"n{n}"
        while counter in top or counter in per_event:
            counter = "_" + counter
        counts = ak.to_numpy(ak.num(a, axis=1))
        per_event[counter] = counts.astype(np.int32 if counts.max(initial=0) < 2**31 else np.int64)
        synthetic.append(counter)
        objects = {}
        for f in subfields:
            col = a[f] if f else a
            branch = f"{n}.{f}" if f else n
            objects[branch] = _flat(col, _leaf_dtype(col, branch, source, True))
        collections.append(Collection(n, counter, subfields, list(objects), pd.DataFrame(objects)))
    ev = Events(rnt.name, "rntuple", pd.DataFrame(per_event), collections, list(names), synthetic)
    ev.check(source)
    return ev


def read_events(path: str | Path, tree: str | None = None, branches: list[str] | None = None,
                cut: str | None = None, entry_start: int | None = None, entry_stop: int | None = None) -> Events:
    """Read a TTree or an RNTuple as events (see the module docstring); ``entry_start``/``entry_stop`` read
    a range of entries."""
    from baler_core.io.tables import open_tree

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file does not exist")
    obj = open_tree(p, tree)
    source = f"{p}:{obj.name}"
    read = _read_ttree if hasattr(obj, "branches") else _read_rntuple
    return read(obj, branches, cut, source, (entry_start, entry_stop))


class EventChunks:
    """The events of a ROOT file in chunks of ``step`` entries, read on demand: the codec reads the chunks once
    per part (:meth:`part_chunks`), so memory holds one chunk of one part. A file of at most ``step`` entries is
    read once and kept."""

    def __init__(self, path: str | Path, tree: str | None = None, branches: list[str] | None = None,
                 cut: str | None = None, step: int = EVENT_CHUNK) -> None:
        from baler_core.io.tables import open_tree

        self.path, self.tree, self.branches, self.cut, self.step = Path(path), tree, branches, cut, int(step)
        if self.step < 1:
            raise InputError(f"{self.path}: the event chunk must be at least 1 entry, got {step}")
        if not self.path.exists():
            raise InputError(f"{self.path}: file does not exist")
        obj = open_tree(self.path, tree)
        self.entries, self._ttree = int(obj.num_entries), hasattr(obj, "branches")
        self._whole = read_events(path, tree, branches, cut) if self.entries <= self.step else None

    def first(self) -> Events:
        """The first chunk: the structure (tree, branches, collections, dtypes) every chunk shares."""
        return self._whole if self._whole is not None else next(iter(self))

    def __iter__(self) -> Iterator[Events]:
        return self._chunks(self.branches)

    def part_chunks(self, part: str) -> Iterator[Events]:
        """The chunks a part is coded from. A TTree chunk reads only that part's branches (the per-event ones
        with the counters, or one collection's); an RNTuple's counts come from its collections, so it is read
        whole."""
        if self._whole is not None or not self._ttree:
            return iter(self)
        first = self.first()
        if part == EVENT_PART:
            return self._chunks(list(first.per_event.columns))
        return self._chunks(next(c.branches for c in first.collections if c.name == part))

    def _chunks(self, branches: list[str] | None) -> Iterator[Events]:
        if self._whole is not None:
            yield self._whole
            return
        for s in range(0, max(self.entries, 1), self.step):
            yield read_events(self.path, self.tree, branches, self.cut, s, min(s + self.step, self.entries))


def to_awkward(ev: Events) -> dict:
    """Top-level name -> array: per-event numpy arrays and, per collection, a jagged record array."""
    import awkward as ak

    out: dict = {}
    for c in ev.collections:
        counts = ev.counts(c)
        cols = {f: ak.unflatten(c.objects[b].to_numpy(), counts) for f, b in zip(c.fields, c.branches)}
        out[c.name] = cols[""] if list(cols) == [""] else ak.zip(cols, depth_limit=2)
    for n in ev.per_event.columns:
        if n not in ev.synthetic_counters:
            out[n] = ev.per_event[n].to_numpy()
    return out


def write_events(events: Events | Iterable[Events], path: str | Path, layout: str | None = None) -> None:
    """Write events by suffix: ``.root`` (the layout read, or ``layout``: ``ttree`` / ``rntuple``) or
    ``.parquet`` (awkward: one row per event, collections as list columns). ``events`` may be chunks of one
    file's events (``codec.events.iter_events``): they are written in order, one chunk in memory at a time."""
    import awkward as ak

    chunks = iter([events] if isinstance(events, Events) else events)
    first = next(chunks, None)
    p = Path(path)
    if first is None:
        raise InputError(f"{p}: no events to write (not even an empty chunk with the branches)")
    layout = layout or first.layout
    if layout not in LAYOUTS:
        raise InputError(f"output layout {layout!r} unknown; choose {' or '.join(LAYOUTS)}")
    every = itertools.chain([first], chunks)
    if p.suffix.lower() in (".parquet", ".pq"):  # list columns carry the counts
        counters = {c.counter for c in first.collections}
        ak.to_parquet_row_groups((ak.zip({k: v for k, v in to_awkward(ev).items() if k not in counters},
                                         depth_limit=1) for ev in every), p)
        return
    if p.suffix.lower() != ".root":
        raise InputError(f"{p}: events are written as .root or .parquet")
    import uproot

    with uproot.recreate(p) as f:
        arrays = to_awkward(first)
        keys = _top_order(first, arrays)
        if layout == "rntuple":
            f.mkrntuple(first.tree, ak.zip({k: arrays[k] for k in keys}, depth_limit=1).layout.form)  # empty
        else:
            counter_of = {c.name: c.counter for c in first.collections}
            # a TTree read keeps its branch names; an RNTuple's Jet.pt becomes Jet_pt (NanoAOD's naming)
            branch_of = {(c.name, fld): b for c in first.collections for fld, b in zip(c.fields, c.branches)
                         if first.layout == "ttree"}
            types = {k: (arrays[k].dtype if isinstance(arrays[k], np.ndarray) else arrays[k].type) for k in keys}
            f.mktree(first.tree, types, counter_name=lambda name: counter_of.get(name, "n" + name),
                     field_name=lambda outer, inner: branch_of.get((outer, inner), f"{outer}_{inner}"))
        out = f[first.tree]
        for ev in every:
            arrays = arrays if ev is first else to_awkward(ev)
            for s in range(0, max(ev.n_events, 1), ROOT_BASKET_EVENTS):
                if s < ev.n_events or layout == "ttree":
                    out.extend({k: arrays[k][s : s + ROOT_BASKET_EVENTS] for k in keys})


def _top_order(ev: Events, arrays: dict) -> list[str]:
    """Names in the order they were read; a TTree counter is written by uproot with its collection."""
    by_branch = {b: c.name for c in ev.collections for b in c.branches}
    counters = {c.counter for c in ev.collections}
    keys: list[str] = []
    for n in ev.order:
        k = by_branch.get(n, n)
        if k in arrays and k not in keys and n not in counters:
            keys.append(k)
    keys.extend(k for k in arrays if k not in keys and k not in counters)
    return keys
