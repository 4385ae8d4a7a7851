"""Addresses → coordinates: locations first, then the cache, then a (fake) geocoder; no network."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from geopy.exc import GeocoderAuthenticationFailure, GeocoderServiceError
from geopy.extra.rate_limiter import RateLimiter
from geopy.location import Location
from hypothesis import given, settings
from hypothesis import strategies as st

from baohu_assign.cli import main
from baohu_assign.io import geocode
from baohu_assign.io.geocode import GeocodeCache, geocode_table, normalise_address, rate_limited
from baohu_assign.io.locations import Locations
from baohu_assign.io.tables import read_table

TREE = """location_id,parent_id,kind,name,lat,lon
C,,community,朱大汉社区,34.72,114.00
Y1,C,compound,一号院,34.7205,114.0005
B1,Y1,building,3号楼,34.7206,114.0006
U1,B1,unit,2单元,,
B2,Y1,building,4号楼,34.7301,114.0101
U2,B2,unit,2单元,,
"""

KNOWN = {"郑州市金水路1号": (34.75, 113.66), "郑州市金水路2号": (34.76, 113.67)}


class FakeGeocoder:
    """Answers from a dict; counts the calls; never touches the network."""

    def __init__(self, known=KNOWN, fail_on=()):
        self.known = dict(known)
        self.fail_on = set(fail_on)
        self.calls: list[str] = []

    def geocode(self, query, *, exactly_one=True):
        self.calls.append(query)
        if normalise_address(query) in self.fail_on:
            raise GeocoderServiceError("service error")
        point = self.known.get(normalise_address(query))
        return None if point is None else Location(query, point, {})


class Offline:
    def geocode(self, query, *, exactly_one=True):
        raise AssertionError(f"asked for {query!r} while every answer is cached")


def households(rows):
    return pd.DataFrame(rows, columns=["household_id", "address", "lat", "lon"]).astype(str)


FRAME = households(
    [
        ["H1", "郑州市金水路1号", "", ""],
        ["H2", "郑州市 金水路 1号", "", ""],  # the same address once normalised: asked once
        ["H3", "无此地", "", ""],
        ["H4", "郑州市金水路2号", "30.1", "110.2"],  # given: kept
        ["H5", "朱大汉社区一号院3号楼2单元", "", ""],
        ["H6", "", "", ""],
    ]
)


def test_fills_blanks_reports_misses_with_rows_and_keeps_given_coordinates(tmp_path):
    fake = FakeGeocoder()
    result = geocode_table(
        FRAME,
        geocoder=fake,
        provider="fake",
        cache=tmp_path / "cache.csv",
        locations=Locations.from_frame(pd.read_csv(io.StringIO(TREE), dtype=str)),
        min_delay_seconds=0,
    )
    table = result.table
    assert list(table["household_id"]) == ["H1", "H2", "H3", "H4", "H5", "H6"]
    assert list(table["lat"]) == ["34.75", "34.75", "", "30.1", "34.7206", ""]
    assert list(table["lon"]) == ["113.66", "113.66", "", "110.2", "114.0006", ""]
    assert list(table[geocode.SOURCE_COLUMN]) == ["fake", "fake", "", "input", "locations", ""]
    assert result.counts == {"input": 1, "locations": 1, "cache": 1, "provider": 1, "": 2}
    assert fake.calls == ["郑州市金水路1号", "无此地"]  # the unit was placed without any lookup
    assert [(m.row, m.address, m.reason) for m in result.missing] == [(4, "无此地", "not found"), (7, "", "no address")]


def test_rerun_asks_nothing_and_works_offline_on_a_filled_cache(tmp_path):
    cache = tmp_path / "cache.csv"
    first = geocode_table(FRAME, geocoder=FakeGeocoder(), provider="fake", cache=cache, min_delay_seconds=0)
    again = geocode_table(FRAME, geocoder=Offline(), provider="fake", cache=cache, min_delay_seconds=0)
    offline = geocode_table(FRAME, geocoder=None, provider="fake", cache=cache)
    assert again.lookups == offline.lookups == 0
    for result in (again, offline):
        assert list(result.table["lat"]) == list(first.table["lat"])
        assert [m.row for m in result.missing] == [m.row for m in first.missing]
    # The not-found answer is cached too, and asked again only on request.
    retry = FakeGeocoder()
    geocode_table(FRAME, geocoder=retry, provider="fake", cache=cache, retry_missing=True, min_delay_seconds=0)
    assert retry.calls == ["无此地", "朱大汉社区一号院3号楼2单元"]


def test_cache_file_is_sorted_and_the_same_answers_give_the_same_bytes(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    geocode_table(FRAME, geocoder=FakeGeocoder(), provider="fake", cache=a, min_delay_seconds=0)
    reversed_frame = FRAME.iloc[::-1].reset_index(drop=True)
    geocode_table(reversed_frame, geocoder=FakeGeocoder(), provider="fake", cache=b, min_delay_seconds=0)
    assert a.read_bytes() == b.read_bytes()
    cached = read_table(a)
    assert list(cached.columns) == list(geocode.CACHE_COLUMNS)
    assert set(cached["found"]) == {"true", "false"}


def test_an_interrupted_run_keeps_the_answers_it_got(tmp_path):
    class Interrupted(FakeGeocoder):
        def geocode(self, query, *, exactly_one=True):
            if len(self.calls) == 2:
                raise KeyboardInterrupt
            return super().geocode(query, exactly_one=exactly_one)

    cache = tmp_path / "cache.csv"
    with pytest.raises(KeyboardInterrupt):
        geocode_table(FRAME, geocoder=Interrupted(), provider="fake", cache=cache, min_delay_seconds=0)
    # The second answer came within a second of the first, so only the final flush wrote it.
    assert GeocodeCache.open(cache).entries == {("fake", "郑州市金水路1号"): (34.75, 113.66), ("fake", "无此地"): None}


def test_a_provider_error_is_reported_not_cached_and_a_refused_key_stops(tmp_path):
    cache = tmp_path / "cache.csv"
    fake = FakeGeocoder(fail_on={"郑州市金水路1号"})
    result = geocode_table(
        FRAME, geocoder=fake, provider="fake", cache=cache, min_delay_seconds=0, max_retries=0, error_wait_seconds=0
    )
    assert result.missing[0].row == 2 and result.missing[0].reason.startswith("provider error")
    assert ("fake", "郑州市金水路1号") not in GeocodeCache.open(cache).entries

    class Refusing(FakeGeocoder):
        def geocode(self, query, *, exactly_one=True):
            self.calls.append(query)
            raise GeocoderAuthenticationFailure("Invalid AK")

    refusing = Refusing()
    with pytest.raises(geocode.InputError, match="--key: fake refused the key"):
        geocode_table(
            FRAME, geocoder=refusing, provider="fake", min_delay_seconds=0, max_retries=2, error_wait_seconds=0
        )
    assert len(refusing.calls) == 1  # not retried


def test_a_row_naming_its_place_by_location_id_takes_the_place_without_lookup():
    frame = households([["H1", "郑州市金水路1号", "", ""], ["H2", "", "", ""], ["H3", "郑州市金水路2号", "", ""]])
    frame["location_id"] = ["B2", "U1", "nowhere"]
    fake = FakeGeocoder()
    result = geocode_table(
        frame,
        geocoder=fake,
        provider="fake",
        min_delay_seconds=0,
        locations=Locations.from_frame(pd.read_csv(io.StringIO(TREE), dtype=str)),
    )
    assert list(result.table["lat"]) == ["34.7301", "34.7206", "34.76"]
    assert list(result.table[geocode.SOURCE_COLUMN]) == ["locations", "locations", "fake"]
    assert fake.calls == ["郑州市金水路2号"] and not result.missing


def test_overwrite_replaces_given_coordinates_only_when_found(tmp_path):
    frame = households([["H1", "郑州市金水路1号", "1", "2"], ["H2", "无此地", "3", "4"]])
    result = geocode_table(frame, geocoder=FakeGeocoder(), provider="fake", overwrite=True, min_delay_seconds=0)
    assert list(result.table["lat"]) == ["34.75", "3"]
    assert list(result.table[geocode.SOURCE_COLUMN]) == ["fake", "input"]
    assert [m.row for m in result.missing] == [3]


def test_location_names_match_exactly_and_ambiguous_names_match_nothing():
    locations = Locations.from_frame(pd.read_csv(io.StringIO(TREE), dtype=str))
    places = geocode.location_addresses(locations)
    ids = {text: locations.table["location_id"].iat[at] for text, at in places.items()}
    assert ids["朱大汉社区一号院3号楼2单元"] == "U1"
    assert ids["4号楼2单元"] == "U2"
    assert ids["一号院"] == "Y1"
    assert "2单元" not in ids  # two units of that name
    assert "朱大汉社区" not in ids  # a community is no household's place


def matching_place(address: str, table: pd.DataFrame) -> str | None:
    """Oracle: the one compound/building/unit with coordinates whose name, and its ancestors' names read
    upwards, use up the address from its end; or whose own ``address`` is the address."""
    wanted = normalise_address(address)
    by_id = {row.location_id: row for row in table.itertuples(index=False)}
    found = set()
    for row in table.itertuples(index=False):
        if row.kind not in ("compound", "building", "unit") or row.lat != row.lat:
            continue
        own = normalise_address(row.address) if "address" in table.columns and isinstance(row.address, str) else ""
        if own and own == wanted:  # a blank address cell is no address, and matches nothing
            found.add(row.location_id)
            continue
        rest, node = wanted, row
        while node is not None:
            name = normalise_address(node.name) if isinstance(node.name, str) else ""
            if not name or not rest.endswith(name):
                break
            rest = rest[: len(rest) - len(name)]
            if not rest:
                found.add(row.location_id)
                break
            node = by_id.get(node.parent_id) if isinstance(node.parent_id, str) else None
    return next(iter(found)) if len(found) == 1 else None


NAMES = st.sampled_from(["", "一号院", "3号楼", "３号楼", "2单元", "2 单元", "院", "1"])


@st.composite
def place_trees(draw):
    rows = [["C", "", "community", draw(NAMES), "34.7", "114.0", draw(NAMES)]]
    for kind, parent_kind in (("compound", "community"), ("building", "compound"), ("unit", "building")):
        parents = [r[0] for r in rows if r[2] == parent_kind]
        for i in range(draw(st.integers(0, 3))):
            parent = draw(st.sampled_from(parents)) if parents else None
            if parent is None:
                break
            located = draw(st.booleans())
            rows.append(
                [
                    f"{kind[0]}{i}",
                    parent,
                    kind,
                    draw(NAMES),
                    "34.71" if located else "",
                    "114.01" if located else "",
                    draw(NAMES),
                ]
            )
    return pd.DataFrame(rows, columns=["location_id", "parent_id", "kind", "name", "lat", "lon", "address"])


@settings(max_examples=200)
@given(place_trees(), st.lists(NAMES, min_size=1, max_size=4), st.booleans())
def test_location_match_agrees_with_the_oracle(frame, parts, with_address_column):
    if not with_address_column:
        frame = frame.drop(columns=["address"])
    locations = Locations.from_frame(frame)
    address = " ".join(parts)
    places = geocode.location_addresses(locations)
    at = places.get(normalise_address(address))
    got = None if at is None else locations.table["location_id"].iat[at]
    assert got == matching_place(address, locations.table)


def test_rate_limiter_wraps_the_geocoder_and_waits_the_min_delay():
    fake = FakeGeocoder()
    limited = rate_limited(fake, min_delay_seconds=0.5, max_retries=1, error_wait_seconds=2)
    assert isinstance(limited, RateLimiter)
    assert (limited.min_delay_seconds, limited.max_retries, limited.error_wait_seconds) == (0.5, 1, 2)
    assert limited.swallow_exceptions is False
    now = [100.0]
    slept: list[float] = []
    limited._clock = lambda: now[0]

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limited._sleep = sleep
    limited("郑州市金水路1号")
    now[0] += 0.2
    limited("郑州市金水路2号")
    assert slept == [pytest.approx(0.3)]
    assert fake.calls == ["郑州市金水路1号", "郑州市金水路2号"]


def test_default_delay_follows_the_provider(monkeypatch):
    seen = []
    real = geocode.rate_limited

    def spy(geocoder, **options):
        seen.append(options["min_delay_seconds"])
        return real(geocoder, **options)

    monkeypatch.setattr(geocode, "rate_limited", spy)
    for provider in ("baiduv3", "nominatim"):
        geocode_table(FRAME.head(1), geocoder=FakeGeocoder(), provider=provider)
    assert seen == [pytest.approx(1 / 3), 1.0]


def test_the_rate_limiter_never_shows_the_address_in_its_warnings(caplog):
    fake = FakeGeocoder(fail_on={"郑州市金水路1号"})
    with caplog.at_level("INFO"):
        result = geocode_table(
            FRAME.head(1), geocoder=fake, provider="fake", min_delay_seconds=0, max_retries=1, error_wait_seconds=0
        )
    assert len(fake.calls) == 2  # retried once
    assert result.missing[0].reason.startswith("provider error")
    assert "金水路" not in caplog.text


# -- files and the command line -----------------------------------------------------------------


@pytest.fixture
def fake_provider(monkeypatch):
    fake = FakeGeocoder()
    keys = []

    def factory(provider, key=None, **options):
        keys.append(key)
        return fake

    monkeypatch.setattr(geocode, "make_geocoder", factory)
    fake.keys = keys
    return fake


CSV_TEXT = "户号,Address,备注\n0001,郑州市金水路1号,甲\n0002,无此地,乙\n0003,朱大汉社区一号院4号楼,丙\n"


def test_cli_gbk_csv_in_csv_out_with_report_and_cache(tmp_path, capsys, fake_provider, monkeypatch):
    table = tmp_path / "households.csv"
    table.write_bytes(CSV_TEXT.encode("gbk"))
    (tmp_path / "locations.csv").write_text(TREE, encoding="utf-8")
    monkeypatch.setenv(geocode.KEY_ENV, "secret-key")
    argv = [
        "geocode",
        str(table),
        "--address-column",
        "address",
        "--provider",
        "baiduv3",
        "--locations",
        str(tmp_path / "locations.csv"),
        "--min-delay",
        "0",
    ]
    assert main(argv) == 0
    out = read_table(tmp_path / "households.geocoded.csv")
    assert list(out.attrs["original_columns"].values()) == ["户号", "Address", "备注", "lat", "lon", "lat_lon_source"]
    assert list(out["户号"]) == ["0001", "0002", "0003"]
    assert list(out["lat"]) == ["34.75", "", "34.7301"]
    assert list(out["lat_lon_source"]) == ["baiduv3", "", "locations"]
    report = read_table(tmp_path / "households.geocoded.not-found.csv")
    assert report.values.tolist() == [["households.csv", "3", "无此地", "not found"]]
    captured = capsys.readouterr()
    assert "households.csv, row 3: '无此地'" in captured.err
    assert "Baidu gives BD-09 coordinates" in captured.err  # Baidu's and the locations file's together
    assert "secret-key" not in captured.out + captured.err
    assert fake_provider.keys == ["secret-key"]
    first = (tmp_path / "households.geocoded.csv").read_bytes()
    # Rerun: nothing asked, same bytes.
    calls = len(fake_provider.calls)
    assert main(argv) == 0
    assert len(fake_provider.calls) == calls
    assert (tmp_path / "households.geocoded.csv").read_bytes() == first
    assert main([*argv[:-2], "--offline"]) == 0
    assert (tmp_path / "households.geocoded.csv").read_bytes() == first


def test_cli_xlsx_in_xlsx_out(tmp_path, fake_provider):
    from openpyxl import Workbook, load_workbook

    book = Workbook()
    sheet = book.active
    for row in [
        ["household_id", "address", "lat", "lon"],
        ["0007", "郑州市金水路2号", None, None],
        ["0008", "无此地", 34.1, 113.1],
    ]:
        sheet.append(row)
    book.save(tmp_path / "h.xlsx")
    assert main(["geocode", str(tmp_path / "h.xlsx"), "--key", "k", "--min-delay", "0", "--quiet"]) == 0
    rows = list(load_workbook(tmp_path / "h.geocoded.xlsx").active.iter_rows(values_only=True))
    assert rows == [
        ("household_id", "address", "lat", "lon", "lat_lon_source"),
        ("0007", "郑州市金水路2号", 34.76, 113.67, "baiduv3"),
        ("0008", "无此地", 34.1, 113.1, "input"),
    ]
    assert fake_provider.calls == ["郑州市金水路2号"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--offline", "--address-column", "地址"], "h.csv, row 1, column '地址': no address column '地址'"),
        (["--provider", "no-such-provider"], "--provider: unknown geocoding provider 'no-such-provider'"),
        (["--offline", "--out", "{table}"], "--out: would overwrite the input file"),
        (["--offline", "--cache", "{table}"], "--cache: would overwrite the input file"),
        (["--offline", "--cache", "{bad_cache}"], "bad-cache.csv, row 1: not a geocode cache"),
        (["--offline", "--locations", "{bad_locations}"], "locations.csv, row 2, column 'kind': unknown kind"),
    ],
)
def test_cli_bad_input_exits_2_naming_what(tmp_path, capsys, args, words):
    table = tmp_path / "h.csv"
    table.write_text("household_id,address\nH1,郑州市金水路1号\n", encoding="utf-8")
    bad_cache = tmp_path / "bad-cache.csv"
    bad_cache.write_text("address,lat\nx,1\n", encoding="utf-8")
    bad_locations = tmp_path / "locations.csv"
    bad_locations.write_text("location_id,kind\nA,hamlet\n", encoding="utf-8")
    args = [a.format(table=table, bad_cache=bad_cache, bad_locations=bad_locations) for a in args]
    assert main(["geocode", str(table), *args]) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "h.geocoded.csv").exists()


def test_cli_provider_needing_a_key_without_one_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(geocode.KEY_ENV, raising=False)
    table = tmp_path / "h.csv"
    table.write_text("household_id,address\nH1,x\n", encoding="utf-8")
    assert main(["geocode", str(table), "--provider", "baiduv3"]) == 2
    assert geocode.KEY_ENV in capsys.readouterr().err


def test_make_geocoder_builds_baidu_and_nominatim_without_network():
    from geopy.geocoders import BaiduV3, Nominatim

    baidu = geocode.make_geocoder("baiduv3", "k")
    assert isinstance(baidu, BaiduV3) and baidu.api_key == "k"
    assert isinstance(geocode.make_geocoder("nominatim"), Nominatim)


@pytest.mark.parametrize(("provider", "asks_gcj02"), [("baiduv3", False), (geocode.BAIDU_GCJ02, True)])
def test_baidu_gcj02_asks_for_gcj02_coordinates(monkeypatch, provider, asks_gcj02):
    from urllib.parse import parse_qs, urlsplit

    baidu = geocode.make_geocoder(provider, "k")
    urls = []
    monkeypatch.setattr(baidu, "_call_geocoder", lambda url, callback, **options: urls.append(url))
    baidu.geocode("郑州市金水路1号")
    query = parse_qs(urlsplit(urls[0]).query)
    assert query["address"] == ["郑州市金水路1号"] and query["ak"] == ["k"]
    assert query.get("ret_coordtype") == (["gcj02ll"] if asks_gcj02 else None)


def test_neither_key_nor_address_leaves_through_a_provider_error(caplog):
    from geopy.exc import GeocoderUnavailable

    class Unreachable(FakeGeocoder):
        def geocode(self, query, *, exactly_one=True):
            self.calls.append(query)
            raise GeocoderUnavailable(
                f"HTTPSConnectionPool: Max retries exceeded with url: /geocoding/v3/?ak=SECRET&address={query} "
                f"(while asking for {query})"
            )

    fake = Unreachable()
    with caplog.at_level("DEBUG", logger="geopy"):
        result = geocode_table(
            FRAME.head(1), geocoder=fake, provider="fake", min_delay_seconds=0, max_retries=1, error_wait_seconds=0
        )
    assert len(fake.calls) == 2
    reason = result.missing[0].reason
    assert reason.startswith("provider error: GeocoderUnavailable")
    for text in (reason, caplog.text):
        assert "SECRET" not in text and "金水路" not in text


def test_geopy_request_log_with_the_key_stays_off_even_in_debug_runs():
    import logging

    logging.getLogger("geopy").setLevel(logging.NOTSET)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        geocode.make_geocoder("baiduv3", "k")
        assert not logging.getLogger("geopy").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(level)


def test_service_keeps_failing_or_quota_used_up_exit_1_keeping_the_cache(tmp_path, capsys, monkeypatch):
    from geopy.exc import GeocoderQuotaExceeded

    class QuotaAfterOne(FakeGeocoder):
        def geocode(self, query, *, exactly_one=True):
            if self.calls:
                raise GeocoderQuotaExceeded("Quota validate failure.")
            return super().geocode(query, exactly_one=exactly_one)

    monkeypatch.setattr(geocode, "make_geocoder", lambda provider, key=None, **options: QuotaAfterOne())
    table = tmp_path / "h.csv"
    table.write_text("household_id,address\nH1,郑州市金水路1号\nH2,郑州市金水路2号\n", encoding="utf-8")
    assert main(["geocode", str(table), "--key", "k", "--min-delay", "0"]) == 1
    assert "quota" in capsys.readouterr().err
    assert GeocodeCache.open(tmp_path / "geocode-cache.csv").entries == {
        ("baiduv3", "郑州市金水路1号"): (34.75, 113.66)
    }

    down = FakeGeocoder(fail_on=set(map(normalise_address, FRAME["address"])) | {"a", "b", "c", "d", "e"})
    frame = households([[f"H{i}", text, "", ""] for i, text in enumerate("abcdef")])
    with pytest.raises(geocode.GeocoderFailed, match="5 times in a row"):
        geocode_table(frame, geocoder=down, provider="fake", min_delay_seconds=0, max_retries=0, error_wait_seconds=0)
    assert len(down.calls) == 5
