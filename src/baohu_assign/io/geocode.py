"""Addresses → coordinates: fill blank ``lat``/``lon`` of a table with a geopy geocoder.

Each row whose ``lat`` or ``lon`` is blank gets coordinates, tried in this order:

1. ``locations``: its ``location_id`` is a place of the hierarchy with
   coordinates, or its address names a compound, building or unit of it
   (:func:`location_addresses`); no lookup;
2. ``cache``: the provider already answered this address (found or not found)
   in an earlier run: the cache file beside the input (:class:`GeocodeCache`);
3. ``provider``: one request to the geocoder, rate-limited with geopy's
   :class:`~geopy.extra.rate_limiter.RateLimiter`; the answer goes to the cache.

An address the provider does not find stays blank and is listed (file, row,
address) in :attr:`GeocodeResult.missing`: nothing is guessed. Addresses are
personal data: they are logged at DEBUG only, and the rate limiter sees them
behind a wrapper that hides them from its retry warnings.

Coordinates are written as the provider gives them. Baidu answers in its own
BD-09 system (GCJ-02 with the provider :data:`BAIDU_GCJ02`, never WGS84), Amap
and Tencent maps use GCJ-02, all shifted by hundreds of metres from WGS84
(GPS, OpenStreetMap): distances between points of one system are right, so
take every coordinate of a run (members, households, locations.csv) from the
same map tool.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..errors import BaohuError, InputError, Issue
from .atomic import atomic_write_bytes, atomic_write_text
from .locations import Locations, as_locations
from .tables import IssueCollector, cell_text, csv_text, is_missing, normalise_header, read_table
from .xlsx import stable_xlsx_bytes

logger = logging.getLogger(__name__)

__all__ = [
    "BAIDU_GCJ02",
    "CACHE_COLUMNS",
    "KEY_ENV",
    "MISSING_COLUMNS",
    "SOURCE_COLUMN",
    "SOURCE_VALUES",
    "GeocodeCache",
    "GeocodeResult",
    "Geocoder",
    "GeocoderFailed",
    "Missing",
    "default_cache_path",
    "default_output_path",
    "geocode_file",
    "geocode_table",
    "location_addresses",
    "make_geocoder",
    "missing_report_path",
    "normalise_address",
    "rate_limited",
]

KEY_ENV = "BAOHU_GEOCODE_KEY"
"""Environment variable read for the provider's key when none is given."""

SOURCE_COLUMN = "lat_lon_source"
"""Column added to the output: where each row's coordinates came from."""

SOURCE_VALUES: tuple[str, ...] = ("input", "locations", "")
"""Values of :data:`SOURCE_COLUMN` besides the provider's name (e.g. ``baiduv3``,
whether asked in this run or taken from the cache); ``""`` for a row left without
coordinates."""

_RUN_SOURCES: tuple[str, ...] = ("input", "locations", "cache", "provider", "")

CACHE_COLUMNS: tuple[str, ...] = ("provider", "address", "lat", "lon", "found")
"""Columns of the cache file, one row per (provider, normalised address)."""

MISSING_COLUMNS: tuple[str, ...] = ("file", "row", "address", "reason")
"""Columns of the not-found report."""

LOCATION_KINDS_MATCHED: tuple[str, ...] = ("compound", "building", "unit")
"""Kinds of place an address may name to take the place's coordinates."""

BAIDU_GCJ02 = "baiduv3-gcj02"
"""Provider name of Baidu Maps answering in GCJ-02 (the system of Amap/高德 and Tencent maps) instead of BD-09."""

DEFAULT_MIN_DELAY_S: Mapping[str, float] = {"baidu": 1 / 3, "baiduv3": 1 / 3, BAIDU_GCJ02: 1 / 3}
"""Seconds between requests per provider (free Baidu keys allow a few a second); 1 s for any other."""

_STOP_AFTER_ERRORS = 5  # consecutive failed lookups: the service is down, not the addresses wrong
_FLUSH_EVERY_S = 1.0  # the cache file is rewritten at most this often while lookups run (and at the end)


class Geocoder(Protocol):
    """What :func:`geocode_table` needs of a geocoder: geopy's ``geocode`` method."""

    def geocode(self, query: str, *, exactly_one: bool = True) -> Any:
        """A result with ``latitude`` and ``longitude``, or ``None`` when not found."""


class GeocoderFailed(BaohuError, RuntimeError):
    """The provider failed for a reason other than the address (service down, quota used up).

    The answers received before the failure are in the cache: run again later.
    """


@dataclass(frozen=True, slots=True)
class Missing:
    """A row left without coordinates.

    ``row`` is the spreadsheet row (header = 1); ``reason`` is ``"not found"``,
    ``"no address"`` or ``"provider error: ..."`` (asked again on the next run).
    """

    file: str
    row: int
    address: str
    reason: str


@dataclass(frozen=True)
class GeocodeResult:
    """The table with coordinates filled, and what could not be filled.

    Attributes
    ----------
    table
        The input frame (text cells, same rows and order), ``lat`` and ``lon``
        filled where found (added at the end when absent), plus
        :data:`SOURCE_COLUMN`.
    missing
        Rows left without coordinates, in row order.
    counts
        Rows per source of this run: ``input``, ``locations``, ``cache``,
        ``provider`` (asked now), ``""`` (left blank).
    lookups
        Requests sent to the provider.
    paths
        From :func:`geocode_file`: the files written (``"table"``,
        ``"missing"``) and the cache (``"cache"``); empty otherwise.
    """

    table: pd.DataFrame
    missing: tuple[Missing, ...]
    counts: dict[str, int]
    lookups: int
    paths: dict[str, Path] = field(default_factory=dict)

    def missing_frame(self) -> pd.DataFrame:
        """:attr:`missing` as a frame with :data:`MISSING_COLUMNS`."""
        return pd.DataFrame([[m.file, m.row, m.address, m.reason] for m in self.missing], columns=list(MISSING_COLUMNS))


# -- addresses ----------------------------------------------------------------------------


def normalise_address(text: object) -> str:
    """The form in which addresses are compared and cached.

    Unicode NFKC (full-width digits and letters become ASCII), all whitespace
    removed, letters lower-cased.

    Examples
    --------
    >>> normalise_address(" 朱大汉社区 ３号楼 2单元 ")
    '朱大汉社区3号楼2单元'
    """
    if is_missing(text):
        return ""
    return "".join(unicodedata.normalize("NFKC", str(text)).split()).lower()


def location_addresses(locations: Locations) -> dict[str, int]:
    """Normalised address → position in ``locations.table`` of the place it names.

    A compound, building or unit is named by the names along its path joined
    without spaces, from any ancestor down to itself: a unit 2单元 of building
    3号楼 of compound 一号院 of community 朱大汉社区 is named by
    ``"2单元"``, ``"3号楼2单元"``, ``"一号院3号楼2单元"`` and
    ``"朱大汉社区一号院3号楼2单元"``. A table with an ``address`` column also
    names each place by its address. A name that fits more than one place
    (``"2单元"`` in a community with several buildings) names none. Places
    without coordinates (own or inherited) are left out.
    """
    table = locations.table
    names = [normalise_address(v) if isinstance(v, str) else "" for v in table["name"].to_numpy(dtype=object)]
    kinds = table["kind"].to_numpy(dtype=object)
    has_coordinates = np.isfinite(table["lat"].to_numpy(dtype=np.float64))
    parent = locations._parent_positions
    candidates: dict[str, set[int]] = {}
    for i in range(len(table)):
        if kinds[i] not in LOCATION_KINDS_MATCHED or not has_coordinates[i]:
            continue
        text, node = "", i
        while node >= 0 and names[node]:  # a nameless place ends the chain
            text = names[node] + text
            candidates.setdefault(text, set()).add(i)
            node = parent[node]
        if "address" in table.columns:
            own = normalise_address(table["address"].iloc[i])
            if own:
                candidates.setdefault(own, set()).add(i)
    return {text: next(iter(found)) for text, found in candidates.items() if len(found) == 1}


# -- cache ----------------------------------------------------------------------------------


@dataclass
class GeocodeCache:
    """Answers of providers, kept in a CSV file so that no address is asked twice.

    One row per (provider, normalised address): ``lat``, ``lon`` (blank when
    not found) and ``found`` (``true``/``false``). Rows are sorted, so the same
    answers give the same file. The file is rewritten atomically (a killed run
    leaves the previous or the new file, never half of one).
    """

    path: Path | None
    entries: dict[tuple[str, str], tuple[float, float] | None] = field(default_factory=dict)
    _dirty: bool = field(default=False, init=False, repr=False)
    _flushed_at: float = field(default=0.0, init=False, repr=False)

    @classmethod
    def open(cls, path: str | Path | None) -> GeocodeCache:
        """The cache in ``path`` (empty when the file does not exist; ``None``: kept in memory only)."""
        cache = cls(Path(path) if path is not None else None)
        if cache.path is None or not cache.path.exists():
            return cache
        frame = read_table(cache.path)
        file = str(cache.path)
        absent = [c for c in CACHE_COLUMNS if c not in frame.columns]
        if absent:
            raise InputError(Issue(file, 1, None, f"not a geocode cache: missing column(s) {', '.join(absent)}"))
        issues = IssueCollector(file)
        for i, record in enumerate(frame[list(CACHE_COLUMNS)].itertuples(index=False)):
            provider, address, lat, lon, found = (str(v).strip() for v in record)
            if found.lower() == "false":
                cache.entries[(provider, address)] = None
                continue
            try:
                point = (float(lat), float(lon))
            except ValueError:
                issues.add(i + 2, "lat", "expected numbers in lat and lon where found is true", f"{lat},{lon}")
                continue
            cache.entries[(provider, address)] = point
        issues.raise_if_any()
        return cache

    def get(self, provider: str, address: str) -> tuple[float, float] | bool | None:
        """The cached answer: a point, ``None`` for not found, ``False`` when never asked."""
        return self.entries.get((provider, address), False)

    def put(self, provider: str, address: str, point: tuple[float, float] | None) -> None:
        """Record an answer; the file is written at most every second (and by :meth:`flush`)."""
        self.entries[(provider, address)] = point
        self._dirty = True
        if time.monotonic() - self._flushed_at >= _FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Write the file now if anything changed."""
        if not self._dirty or self.path is None:
            return
        rows = []
        for (provider, address), point in sorted(self.entries.items()):
            lat, lon = (_degrees(point[0]), _degrees(point[1])) if point is not None else ("", "")
            rows.append([provider, address, lat, lon, "true" if point is not None else "false"])
        frame = pd.DataFrame(rows, columns=list(CACHE_COLUMNS))
        atomic_write_text(self.path, csv_text(frame))
        self._dirty = False
        self._flushed_at = time.monotonic()


# -- providers --------------------------------------------------------------------------------


def make_geocoder(provider: str, key: str | None = None, *, timeout: float = 10.0) -> Any:
    """A geopy geocoder for a service name (``baiduv3``, ``nominatim``, ... : see geopy).

    Parameters
    ----------
    provider
        A name known to :func:`geopy.geocoders.get_geocoder_for_service`, or
        :data:`BAIDU_GCJ02`: geopy's ``BaiduV3`` asking Baidu for GCJ-02
        coordinates (``ret_coordtype=gcj02ll``) instead of its own BD-09.
    key
        The service's API key (Baidu: the AK of a "服务端" application);
        required by services whose geocoder takes ``api_key``.
    timeout
        Seconds to wait for one answer.

    Raises
    ------
    InputError
        Unknown provider, or a key is needed and not given.
    """
    from geopy.geocoders import get_geocoder_for_service

    from .._version import __version__

    try:
        factory = _baidu_gcj02() if provider == BAIDU_GCJ02 else get_geocoder_for_service(provider)
    except Exception:  # geopy raises GeocoderNotFound
        raise InputError(
            Issue(
                "--provider",
                None,
                None,
                f"unknown geocoding provider {provider!r}; e.g. baiduv3 (Baidu Maps), nominatim (OpenStreetMap)",
            )
        ) from None
    parameters = inspect.signature(factory.__init__).parameters
    options: dict[str, Any] = {"timeout": timeout}
    if "api_key" in parameters:
        if not key:
            raise InputError(
                Issue(
                    "--key",
                    None,
                    None,
                    f"provider {provider!r} needs a key: give --key or set the environment variable {KEY_ENV}",
                )
            )
        options["api_key"] = key
    if "user_agent" in parameters:
        options["user_agent"] = f"baohu-assign/{__version__}"
    # geopy logs each request URL at DEBUG, key included: keep its logger above DEBUG.
    geopy_logger = logging.getLogger("geopy")
    if geopy_logger.getEffectiveLevel() < logging.INFO:
        geopy_logger.setLevel(logging.INFO)
    return factory(**options)


def _baidu_gcj02() -> type[Any]:
    """geopy's BaiduV3 with ``ret_coordtype=gcj02ll`` in each geocoding request (signed with it when an SK is used)."""
    from geopy.geocoders import BaiduV3

    class BaiduV3Gcj02(BaiduV3):
        def _construct_url(self, url: str, path: str, params: dict[str, str]) -> str:
            if path == self.api_path:
                params = {**params, "ret_coordtype": "gcj02ll"}
            return super()._construct_url(url, path, params)

    return BaiduV3Gcj02


class _Query(str):
    """An address whose repr hides it: the rate limiter puts its arguments in WARNING lines."""

    def __repr__(self) -> str:
        return "<address>"


def rate_limited(
    geocoder: Geocoder, *, min_delay_seconds: float, max_retries: int = 2, error_wait_seconds: float = 5.0
) -> Callable[[str], Any]:
    """``geocoder.geocode`` behind geopy's :class:`~geopy.extra.rate_limiter.RateLimiter`.

    At most one request every ``min_delay_seconds``; a service error is retried
    ``max_retries`` times after ``error_wait_seconds``, then raised (never
    swallowed: a failed request is not a "not found"); a refused key or a
    used-up quota is raised at once, not retried. The message of a
    geopy error loses the query string of any URL in it (which holds the key
    and the address) before the rate limiter logs it.
    """
    from geopy.exc import GeopyError
    from geopy.extra.rate_limiter import RateLimiter

    def lookup(query: str) -> Any:
        try:
            return geocoder.geocode(str(query), exactly_one=True)
        except GeopyError as exc:
            error = _redacted(exc, str(query))
            if _concerns_every_address(exc):
                raise _NotRetried(error) from None  # not a GeopyError: the rate limiter lets it through
            raise error from None

    return RateLimiter(
        lookup,
        min_delay_seconds=min_delay_seconds,
        max_retries=max_retries,
        error_wait_seconds=max(error_wait_seconds, min_delay_seconds),
        swallow_exceptions=False,
    )


# -- the table -------------------------------------------------------------------------------


def geocode_table(
    frame: pd.DataFrame,
    *,
    geocoder: Geocoder | None,
    provider: str = "custom",
    address_column: str = "address",
    cache: GeocodeCache | str | Path | None = None,
    locations: Locations | pd.DataFrame | str | Path | None = None,
    overwrite: bool = False,
    retry_missing: bool = False,
    file: str = "households",
    min_delay_seconds: float | None = None,
    max_retries: int = 2,
    error_wait_seconds: float = 5.0,
) -> GeocodeResult:
    """Fill blank ``lat``/``lon`` from the addresses of a table.

    Parameters
    ----------
    frame
        The table as :func:`~baohu_assign.load.read_table` gives it (text
        cells, normalised headers); other frames are read as text.
    geocoder
        Any object with geopy's ``geocode(query, exactly_one=True)``
        (:func:`make_geocoder`); ``None`` works offline: cache and locations only,
        other addresses are listed as missing.
    provider
        The provider's name, the key of its answers in the cache.
    address_column
        The column holding the address (matched like every header).
    cache
        A :class:`GeocodeCache` or its file; ``None``: no file.
    locations
        The place hierarchy: a row whose ``location_id`` is a place with
        coordinates takes them, as does a row whose address names a
        compound, building or unit (:func:`location_addresses`).
    overwrite
        Also replace coordinates given in the table (rows with an address).
    retry_missing
        Ask the provider again for addresses the cache records as not found.
    file
        Name of the table in messages and in the not-found report.
    min_delay_seconds
        Seconds between requests (default :data:`DEFAULT_MIN_DELAY_S`, 1 s).
    max_retries, error_wait_seconds
        Of the rate limiter (:func:`rate_limited`).

    Returns
    -------
    GeocodeResult

    Raises
    ------
    InputError
        No such address column; the provider refused the key.
    GeocoderFailed
        The provider failed for reasons other than the address (quota used
        up, service down); the answers so far are in the cache.
    """
    table, column = _text_table(frame, address_column, file)
    store = cache if isinstance(cache, GeocodeCache) else GeocodeCache.open(cache)
    places = _PlaceLookup.of(as_locations(locations), table)
    delay = DEFAULT_MIN_DELAY_S.get(provider, 1.0) if min_delay_seconds is None else min_delay_seconds
    lookup = (
        rate_limited(geocoder, min_delay_seconds=delay, max_retries=max_retries, error_wait_seconds=error_wait_seconds)
        if geocoder is not None
        else None
    )
    run = _GeocodeRun(
        file=file,
        provider=provider,
        store=store,
        lookup=lookup,
        retry_missing=retry_missing,
        lat=table["lat"].to_numpy(dtype=object).copy(),
        lon=table["lon"].to_numpy(dtype=object).copy(),
        source=np.full(len(table), "", dtype=object),
    )
    try:
        for i, text in enumerate(cell_text(v) for v in table[column].to_numpy(dtype=object)):
            run.fill(i, text, places, overwrite=overwrite)
    finally:
        store.flush()
    source = run.source
    table["lat"] = pd.array(run.lat, dtype="str") if len(table) else table["lat"]
    table["lon"] = pd.array(run.lon, dtype="str") if len(table) else table["lon"]
    counts = {name: int((source == name).sum()) for name in _RUN_SOURCES}
    # Cached or asked now, the coordinates come from the provider: a rerun writes the same table.
    source[np.isin(source, ("cache", "provider"))] = provider
    table[SOURCE_COLUMN] = pd.array(source, dtype="str") if len(table) else ""
    table.attrs = dict(frame.attrs)
    logger.debug("%s: %s, %d lookups", file, counts, run.lookups)
    return GeocodeResult(table, tuple(run.missing), counts, run.lookups)


def _text_table(frame: pd.DataFrame, address_column: str, file: str) -> tuple[pd.DataFrame, str]:
    """A copy with normalised headers and ``lat``/``lon`` as text (added blank when absent); the address column."""
    column = normalise_header(address_column)
    table = frame.copy()
    table.columns = [normalise_header(c) for c in table.columns]
    if column not in table.columns:
        raise InputError(
            Issue(
                file,
                1,
                address_column,
                f"no address column {address_column!r}; columns are " + ", ".join(repr(c) for c in table.columns),
            )
        )
    for name in ("lat", "lon"):
        table[name] = [cell_text(v) for v in table[name].to_numpy(dtype=object)] if name in table else ""
    return table, column


@dataclass(frozen=True, eq=False)
class _PlaceLookup:
    """Places of the hierarchy a row may take its coordinates from: by its ``location_id`` or by its address."""

    by_address: dict[str, int]
    lat: np.ndarray
    lon: np.ndarray
    named: np.ndarray  # per row: the position of its location_id's place, -1: none

    @classmethod
    def of(cls, hierarchy: Locations | None, table: pd.DataFrame) -> _PlaceLookup:
        if hierarchy is None:
            return cls({}, np.zeros(0), np.zeros(0), np.full(len(table), -1, dtype=np.int64))
        named = (
            hierarchy.positions(table["location_id"].to_numpy(dtype=object))
            if "location_id" in table
            else np.full(len(table), -1, dtype=np.int64)
        )
        return cls(
            location_addresses(hierarchy),
            hierarchy.table["lat"].to_numpy(dtype=np.float64),
            hierarchy.table["lon"].to_numpy(dtype=np.float64),
            named,
        )

    def at(self, i: int, address: str) -> int:
        """Row ``i``'s place: the one it names by id, when that has coordinates, else its address's; -1: none."""
        named = self.named[i]
        return named if named >= 0 and np.isfinite(self.lat[named]) else self.by_address.get(address, -1)

    def point(self, at: int) -> tuple[float, float]:
        return float(self.lat[at]), float(self.lon[at])


@dataclass(eq=False)
class _GeocodeRun:
    """One pass over a table's rows: the coordinates and sources being filled, what is missing, the lookups made."""

    file: str
    provider: str
    store: GeocodeCache
    lookup: Callable[[_Query], Any] | None
    retry_missing: bool
    lat: np.ndarray
    lon: np.ndarray
    source: np.ndarray
    missing: list[Missing] = field(default_factory=list)
    lookups: int = 0
    errors_in_a_row: int = 0

    def fill(self, i: int, text: str, places: _PlaceLookup, *, overwrite: bool) -> None:
        """Row ``i`` (address ``text``): keep its coordinates, or take them from a place, the cache or the provider."""
        address = normalise_address(text)
        given = not is_missing(self.lat[i]) and not is_missing(self.lon[i])
        if given and not (overwrite and address):
            self.source[i] = "input"
            return
        at = places.at(i, address)
        if not address and at < 0:
            self._miss(i, text, "no address", given)
        elif at >= 0:
            self.source[i] = "locations"
            self._found(i, text, places.point(at), given)
        else:
            cached = self.store.get(self.provider, address)
            if cached is not False and (cached is not None or not self.retry_missing or self.lookup is None):
                self.source[i] = "cache" if cached is not None else ""
                self._found(i, text, cached, given)  # type: ignore[arg-type]
            elif self.lookup is None:
                self._miss(i, text, "not in the cache (no provider: offline)", given)
            else:
                self._ask(i, text, address, given)

    def _ask(self, i: int, text: str, address: str, given: bool) -> None:
        """Ask the provider; cache its answer. Stops the run after too many errors in a row."""
        assert self.lookup is not None
        self.lookups += 1
        logger.debug("looking up %s row %d: %s", self.file, i + 2, address)
        try:
            answer = self.lookup(_Query(text.strip()))
        except Exception as exc:
            reason = _fatal(exc.error if isinstance(exc, _NotRetried) else exc, self.provider)
            self.errors_in_a_row += 1
            if self.errors_in_a_row >= _STOP_AFTER_ERRORS:
                raise GeocoderFailed(
                    f"{self.provider} failed {self.errors_in_a_row} times in a row (last: {reason}); "
                    "the answers so far are in the cache: run again later"
                ) from None
            self._miss(i, text, f"provider error: {reason}", given)
            return
        self.errors_in_a_row = 0
        point = _point(answer)
        self.store.put(self.provider, address, point)
        self.source[i] = "provider" if point is not None else ""
        self._found(i, text, point, given)

    def _found(self, i: int, text: str, point: tuple[float, float] | None, given: bool) -> None:
        if point is None:
            self._miss(i, text, "not found", given)
        else:
            self.lat[i], self.lon[i] = _degrees(point[0]), _degrees(point[1])

    def _miss(self, i: int, text: str, reason: str, given: bool) -> None:
        self.missing.append(Missing(self.file, i + 2, text, reason))
        if given:  # --overwrite and nothing better: the coordinates of the table stay
            self.source[i] = "input"
        else:
            self.lat[i] = self.lon[i] = ""


class _NotRetried(Exception):
    """Carries a geopy error that retrying cannot mend past the rate limiter."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


def _concerns_every_address(exc: Exception) -> bool:
    """A refused key, missing privileges or a used-up quota (not a short rate limit: that one is retried)."""
    from geopy import exc as geopy_exc

    return isinstance(
        exc,
        (
            geopy_exc.GeocoderAuthenticationFailure,
            geopy_exc.GeocoderInsufficientPrivileges,
            geopy_exc.ConfigurationError,
        ),
    ) or (isinstance(exc, geopy_exc.GeocoderQuotaExceeded) and not isinstance(exc, geopy_exc.GeocoderRateLimited))


_URL_QUERY = re.compile(r"\?[^\s'\"]*")


def _redacted(exc: Exception, address: str) -> Exception:
    """The same kind of error without URL query strings nor the address in its message."""
    message = _URL_QUERY.sub("?...", str(exc))
    if address:
        message = message.replace(address, "<address>")
    try:
        return type(exc)(message)
    except TypeError:  # a subclass with another constructor
        from geopy.exc import GeocoderServiceError

        return GeocoderServiceError(message)


def _fatal(exc: Exception, provider: str) -> str:
    """Raise for failures that concern every address; the text of one that may concern this address only."""
    from geopy import exc as geopy_exc

    if isinstance(
        exc,
        (
            geopy_exc.GeocoderAuthenticationFailure,
            geopy_exc.GeocoderInsufficientPrivileges,
            geopy_exc.ConfigurationError,
        ),
    ):
        raise InputError(Issue("--key", None, None, f"{provider} refused the key ({exc})")) from None
    if isinstance(exc, geopy_exc.GeocoderQuotaExceeded):
        raise GeocoderFailed(
            f"{provider}: quota used up or requests too fast ({exc}); the answers so far "
            "are in the cache: run again later, or raise --min-delay"
        ) from None
    if not isinstance(exc, geopy_exc.GeopyError):
        raise exc
    return f"{type(exc).__name__}: {exc}"


def _point(answer: Any) -> tuple[float, float] | None:
    if answer is None:
        return None
    if isinstance(answer, (list, tuple)) and not hasattr(answer, "latitude"):
        if not answer:
            return None
        answer = answer[0]
    lat, lon = float(answer.latitude), float(answer.longitude)
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return None
    return lat, lon


def _degrees(value: float) -> str:
    """Degrees with 7 decimals (about 1 cm), trailing zeros dropped: the same number, the same text."""
    text = f"{float(value):.7f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# -- files -----------------------------------------------------------------------------------


def default_output_path(path: str | Path) -> Path:
    """``households.csv`` → ``households.geocoded.csv`` (``.xlsx`` stays ``.xlsx``, ``.xlsm`` becomes ``.xlsx``)."""
    path = Path(path)
    suffix = ".xlsx" if path.suffix.lower() in (".xlsx", ".xlsm") else (path.suffix or ".csv")
    return path.with_name(f"{path.stem}.geocoded{suffix}")


def default_cache_path(path: str | Path) -> Path:
    """The cache beside an input: ``geocode-cache.csv`` in its folder (shared by the tables there)."""
    return Path(path).with_name("geocode-cache.csv")


def missing_report_path(output: str | Path) -> Path:
    """``households.geocoded.csv`` → ``households.geocoded.not-found.csv``."""
    output = Path(output)
    return output.with_name(f"{output.stem}.not-found.csv")


def geocode_file(
    path: str | Path,
    *,
    geocoder: Geocoder | None,
    provider: str = "custom",
    address_column: str = "address",
    out: str | Path | None = None,
    cache: str | Path | None = None,
    locations: Locations | str | Path | None = None,
    overwrite: bool = False,
    retry_missing: bool = False,
    min_delay_seconds: float | None = None,
    max_retries: int = 2,
    error_wait_seconds: float = 5.0,
) -> GeocodeResult:
    """Geocode a CSV or ``.xlsx`` table and write the result beside it.

    Writes ``out`` (default :func:`default_output_path`: every input column
    and row, in order, plus :data:`SOURCE_COLUMN`; CSV as UTF-8 with BOM,
    ``.xlsx`` as a workbook) and the not-found report
    (:func:`missing_report_path`, always, empty when every row has
    coordinates). The cache is ``cache`` or :func:`default_cache_path`. See
    :func:`geocode_table` for the other parameters.

    Returns
    -------
    GeocodeResult
        With ``paths``: ``"table"``, ``"missing"``, ``"cache"``.
    """
    path = Path(path)
    output = Path(out) if out is not None else default_output_path(path)
    cache_path = Path(cache) if cache is not None else default_cache_path(path)
    report_path = missing_report_path(output)
    for target, option in ((output, "--out"), (cache_path, "--cache"), (report_path, "--out")):
        if target.resolve() == path.resolve():
            raise InputError(Issue(option, None, None, f"would overwrite the input file {path}; choose another"))
    frame = read_table(path)
    result = geocode_table(
        frame,
        geocoder=geocoder,
        provider=provider,
        address_column=address_column,
        cache=cache_path,
        locations=locations,
        overwrite=overwrite,
        retry_missing=retry_missing,
        file=path.name,
        min_delay_seconds=min_delay_seconds,
        max_retries=max_retries,
        error_wait_seconds=error_wait_seconds,
    )
    original = dict(frame.attrs.get("original_columns", {}))
    headers = [original.get(c, c) for c in result.table.columns]
    if output.suffix.lower() in (".xlsx", ".xlsm"):
        atomic_write_bytes(output, _xlsx_bytes(result.table, headers))
    else:
        atomic_write_text(output, csv_text(result.table.set_axis(headers, axis=1)))
    atomic_write_text(report_path, csv_text(result.missing_frame()))
    paths = {"table": output, "missing": report_path, "cache": cache_path}
    return GeocodeResult(result.table, result.missing, result.counts, result.lookups, paths)


def _xlsx_bytes(table: pd.DataFrame, headers: list[str]) -> bytes:
    """One sheet: text cells as typed (ids keep leading zeros), lat/lon as numbers."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    numeric = {i for i, c in enumerate(table.columns) if c in ("lat", "lon")}
    for record in table.itertuples(index=False):
        row: list[object] = []
        for i, value in enumerate(record):
            text = str(value)
            row.append(float(text) if i in numeric and _is_number(text) else (text or None))
        sheet.append(row)
    return stable_xlsx_bytes(book)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
