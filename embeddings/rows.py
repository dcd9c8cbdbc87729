"""What each indexed chunk is filtered by (tenant, outlet, author, day), and filters over those fields.

Every vector store keeps these fields beside each vector, so a filter is applied inside the store: as a
boolean mask over memory-mapped columns (FAISS) or as a boolean expression (Milvus).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np

from corpus.models import Article
from embeddings.files import load_npy, write_file, write_npy

EPOCH = date(1970, 1, 1)
NO_DAY = -(10**6)  # the day number of an undated article: before every real date
_CODED = ("tenants", "outlets", "authors")
_NOTHING = "(id < 0 and id > 0)"  # a Milvus expression no row passes (Milvus 2.3 refuses the literal false)


def day_number(moment: datetime | None) -> int:
    if moment is None:
        return NO_DAY
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return day_of(moment.date())


def day_of(day: date) -> int:
    return (day - EPOCH).days


@dataclass(frozen=True)
class RowFields:
    """The filter fields of some chunks, one entry per chunk."""

    tenants: list[str] = field(default_factory=list)
    outlets: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    days: list[int] = field(default_factory=list)

    @classmethod
    def of_articles(cls, articles: list[Article]) -> RowFields:
        """The fields of chunks of these articles (one article per chunk)."""
        return cls(
            tenants=[a.tenant for a in articles],
            outlets=[a.outlet for a in articles],
            authors=[a.author for a in articles],
            days=[day_number(a.published) for a in articles],
        )

    def __len__(self) -> int:
        return len(self.days)

    def take(self, rows: np.ndarray) -> RowFields:
        return RowFields(
            tenants=[self.tenants[r] for r in rows],
            outlets=[self.outlets[r] for r in rows],
            authors=[self.authors[r] for r in rows],
            days=[self.days[r] for r in rows],
        )

    def __add__(self, other: RowFields) -> RowFields:
        return RowFields(
            self.tenants + other.tenants,
            self.outlets + other.outlets,
            self.authors + other.authors,
            self.days + other.days,
        )


@dataclass(frozen=True)
class RowFilter:
    """Which chunks a search may return. Every condition given must hold:
    `tenants` (None: any), `outlets` and `authors` (empty: any), days within [since, until] (an undated
    chunk passes neither bound), a day within one of `day_ranges` (inclusive; None: any day), and an id
    at most `max_id` and not in `exclude_ids`."""

    tenants: tuple[str, ...] | None = None
    outlets: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    since: int | None = None
    until: int | None = None
    day_ranges: tuple[tuple[int, int], ...] | None = None
    max_id: int | None = None
    exclude_ids: tuple[int, ...] = ()

    def narrowed(self, **changes: object) -> RowFilter:
        """This filter with more conditions (e.g. a question's outlets on top of the user's filters)."""
        return RowFilter(**{**self.__dict__, **changes})

    def milvus_expression(self) -> str:
        """The filter as a Milvus boolean expression ("" when there is no condition)."""
        parts: list[str] = []
        if self.tenants is not None:
            parts.append(f"tenant in {_json_list(self.tenants)}")
        if self.outlets:
            parts.append(f"outlet in {_json_list(self.outlets)}")
        if self.authors:
            parts.append(f"author in {_json_list(self.authors)}")
        if self.since is not None:
            parts.append(f"day >= {int(self.since)}")
        if self.until is not None:
            parts.append(f"(day <= {int(self.until)} and day != {NO_DAY})")
        if self.day_ranges is not None:
            ranges = [f"(day >= {int(lo)} and day <= {int(hi)})" for lo, hi in self.day_ranges]
            parts.append("(" + " or ".join(ranges) + ")" if ranges else _NOTHING)
        if self.max_id is not None:
            parts.append(f"id <= {int(self.max_id)}")
        if self.exclude_ids:
            parts.append(f"not (id in {_json_list([int(i) for i in self.exclude_ids])})")
        return " and ".join(parts)


def _json_list(values: object) -> str:
    return json.dumps(list(values), ensure_ascii=False)  # type: ignore[call-overload]


class RowColumns:
    """The filter fields of a set of rows as numpy columns (strings coded), memory-mapped when opened
    from disk, so a filter is a few vectorised comparisons whatever the number of rows."""

    def __init__(self, ids: np.ndarray, days: np.ndarray, coded: dict[str, tuple[np.ndarray, list[str]]]) -> None:
        self.ids = ids
        self.days = days
        self._coded = coded

    @classmethod
    def build(cls, ids: np.ndarray, fields: RowFields) -> RowColumns:
        coded: dict[str, tuple[np.ndarray, list[str]]] = {}
        for name in _CODED:
            values: list[str] = getattr(fields, name)
            names = sorted(set(values))
            index = {value: code for code, value in enumerate(names)}
            coded[name] = (np.array([index[v] for v in values], dtype=np.int32), names)
        return cls(np.asarray(ids, dtype=np.int64), np.asarray(fields.days, dtype=np.int32), coded)

    def __len__(self) -> int:
        return len(self.ids)

    def arrays(self) -> list[np.ndarray]:
        """Every column: ids, days and the codes of each coded one (all one entry per row)."""
        return [self.ids, self.days, *(codes for codes, _ in self._coded.values())]

    def save(self, folder: Path) -> None:
        for name in ("ids", "days"):
            write_npy(folder / f"{name}.npy", getattr(self, name))
        for name, (codes, _) in self._coded.items():
            write_npy(folder / f"{name}.npy", codes)
        names = {name: values for name, (_, values) in self._coded.items()}
        write_file(folder / "names.json", json.dumps(names, ensure_ascii=False).encode("utf-8"))

    @classmethod
    def open(cls, folder: Path) -> RowColumns:
        names = json.loads((folder / "names.json").read_text(encoding="utf-8"))
        coded = {name: (load_npy(folder / f"{name}.npy"), list(names[name])) for name in _CODED}
        return cls(load_npy(folder / "ids.npy"), load_npy(folder / "days.npy"), coded)

    def values(self, name: str, rows: np.ndarray) -> list[str]:
        """The strings of column `name` ("tenants", "outlets", "authors") at `rows`."""
        codes, names = self._coded[name]
        return [names[int(code)] for code in codes[rows]]

    def fields(self, rows: np.ndarray) -> RowFields:
        return RowFields(
            tenants=self.values("tenants", rows),
            outlets=self.values("outlets", rows),
            authors=self.values("authors", rows),
            days=[int(d) for d in self.days[rows]],
        )

    def mask(self, where: RowFilter | None) -> np.ndarray | None:
        """Rows the filter allows (None: all of them)."""
        if where is None:
            return None
        mask: np.ndarray | None = None

        def both(condition: np.ndarray) -> None:
            nonlocal mask
            mask = condition if mask is None else mask & condition

        for name, wanted in (("tenants", where.tenants), ("outlets", where.outlets or None)):
            if wanted is not None:
                both(self._isin(name, wanted))
        if where.authors:
            both(self._isin("authors", where.authors))
        days = self.days
        if where.since is not None:
            both(days >= where.since)
        if where.until is not None:
            both((days <= where.until) & (days != NO_DAY))
        if where.day_ranges is not None:
            near = np.zeros(len(days), dtype=bool)
            for lo, hi in where.day_ranges:
                near |= (days >= lo) & (days <= hi)
            both(near)
        if where.max_id is not None:
            both(self.ids <= where.max_id)
        if where.exclude_ids:
            both(~np.isin(self.ids, np.asarray(where.exclude_ids, dtype=np.int64)))
        return mask

    def _isin(self, name: str, wanted: tuple[str, ...]) -> np.ndarray:
        codes, names = self._coded[name]
        index = {value: code for code, value in enumerate(names)}
        found = [index[w] for w in wanted if w in index]
        if not found:
            return np.zeros(len(codes), dtype=bool)
        if len(found) == 1:
            return np.asarray(codes == found[0])
        return np.isin(codes, np.asarray(found, dtype=np.int32))
