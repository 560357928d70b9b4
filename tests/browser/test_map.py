"""The map and timeline components in a real browser, on a page of their own (console/test/harness),
served under the console's Content-Security-Policy. Without a tile URL the map fetches nothing and
its scale bar is true to the ground; with one, tiles come from there only."""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from nas.console import content_type, security_headers
from nas.local.demo import CAMERAS
from tests.browser.conftest import CONSOLE, assert_accessible

# Local mode's scheduled jobs (started by other tests of this package) may flush empty metrics meanwhile.
HARNESS = CONSOLE / "build"
ORIGIN = "http://console.test"
TILES = "http://tiles.test/{z}/{x}/{y}.png"
# The smallest valid PNG: one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
SOUTH_EAST = [c for c in CAMERAS if c.lea in ("KENT", "ESSEX")]
SIGHTINGS = [
    {"id": "s1", "at": "2024-05-30T10:00:00Z", "label": "KENT-A2-001"},
    {"id": "s2", "at": "2024-05-30T10:20:00Z", "label": "KENT-M20-J9"},
    {"id": "s3", "at": "2024-05-30T10:20:30Z", "label": "KENT-M20-J9"},
    {"id": "s4", "at": "2024-05-30T11:45:00Z", "label": "ESSEX-A12-004"},
    {"id": "s5", "at": "2024-05-30T12:30:00Z", "label": "ESSEX-CCTV-12"},
]


def sites(cameras: Any) -> list[dict[str, Any]]:
    return [{"id": c.camera_id, "lat": c.lat, "lon": c.lon, "count": 2} for c in cameras]


def open_harness(watched: Any, *, tile_url: str = "", cameras: Any = SOUTH_EAST) -> list[str]:
    """Serves the harness with its data; returns the list the tile requests are recorded in."""
    page = watched.page
    data = json.dumps({"sites": sites(cameras), "sightings": SIGHTINGS, "tile_url": tile_url}).encode()
    headers = security_headers(tile_url, allow_http=True)

    def serve(route: Any) -> None:
        name = urlsplit(route.request.url).path.lstrip("/") or "index.html"
        body = (
            data
            if name == "data.json"
            else (HARNESS / name).read_bytes()
            if (HARNESS / name).is_file()
            else None
        )
        if body is None:
            route.fulfill(status=404, body=b"")
        else:
            route.fulfill(status=200, headers={"Content-Type": content_type(name), **headers}, body=body)

    tiles: list[str] = []

    def tile(route: Any) -> None:
        tiles.append(route.request.url)
        route.fulfill(status=200, headers={"Content-Type": "image/png"}, body=PNG)

    page.route(f"{ORIGIN}/**", serve)
    page.route("http://tiles.test/**", tile)
    page.goto(f"{ORIGIN}/")
    page.locator("figure.map").wait_for()
    return tiles


def drawn_sites(page: Any) -> dict[str, tuple[float, float]]:
    found: dict[str, tuple[float, float]] = {}
    for site in page.locator("g.map-site").all():
        x, y = re.fullmatch(r"translate\(([-\d.]+) ([-\d.]+)\)", site.get_attribute("transform")).groups()  # type: ignore[union-attr]
        found[str(site.get_attribute("data-site"))] = (float(x), float(y))
    return found


def ground_metres(a: Any, b: Any) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def slippy_tile(lat: float, lon: float, zoom: int) -> tuple[int, int]:
    """The standard XYZ tile holding a position (the OpenStreetMap wiki's formula)."""
    n = 2**zoom
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_map_without_a_tile_url_draws_every_site_in_place_with_a_true_scale_and_fetches_nothing(
    new_page: Any,
) -> None:
    watched = new_page()
    tiles = open_harness(watched)
    page = watched.page
    drawn = drawn_sites(page)
    assert set(drawn) == {c.camera_id for c in SOUTH_EAST}
    for x, y in drawn.values():  # inside the 640 by 420 view
        assert 0 < x < 640
        assert 0 < y < 420
    by_id = {c.camera_id: c for c in SOUTH_EAST}
    for a in SOUTH_EAST:
        for b in SOUTH_EAST:
            if a.lon < b.lon:
                assert drawn[a.camera_id][0] < drawn[b.camera_id][0]  # east is right
            if a.lat < b.lat:
                assert drawn[a.camera_id][1] > drawn[b.camera_id][1]  # north is up

    # The scale bar against the ground: metres per pixel measured between two drawn sites.
    a, b = by_id["KENT-A2-001"], by_id["KENT-M20-J9"]
    (ax, ay), (bx, by) = drawn[a.camera_id], drawn[b.camera_id]
    measured = ground_metres(a, b) / math.hypot(bx - ax, by - ay)
    scale = page.locator("g.map-scale")
    metres = float(scale.get_attribute("data-metres") or 0)
    pixels = float(page.locator("path.map-scale-bar").get_attribute("data-pixels") or 0)
    assert 30 < pixels <= 120
    assert pixels * measured == pytest.approx(metres, rel=0.03)
    label = scale.locator("text").text_content()
    assert label == (f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m")

    assert page.locator("image.map-tile").count() == 0
    assert tiles == []
    assert {urlsplit(u).netloc for u in watched.requests} == {"console.test"}  # no network call elsewhere
    assert page.get_by_text("plain projection").is_visible()
    assert_accessible(page)


def test_map_with_a_tile_url_takes_its_tiles_from_there(new_page: Any) -> None:
    watched = new_page()
    tiles = open_harness(watched, tile_url=TILES)
    page = watched.page
    page.wait_for_function("() => document.querySelectorAll('image.map-tile').length > 0")
    zoom = int(page.locator("figure.map").get_attribute("data-zoom") or -1)
    page.wait_for_function(
        """(n) => performance.getEntriesByType('resource')
            .filter(e => e.name.startsWith('http://tiles.test/')).length >= n""",
        arg=page.locator("image.map-tile").count(),
    )
    requested = set()
    for url in tiles:
        z, x, y = map(int, re.fullmatch(r"http://tiles\.test/(\d+)/(\d+)/(\d+)\.png", url).groups())  # type: ignore[union-attr]
        assert z == zoom
        requested.add((x, y))
    for camera in SOUTH_EAST:  # each site's own tile is drawn under it
        assert slippy_tile(camera.lat, camera.lon, zoom) in requested
    other_hosts = {urlsplit(u).netloc for u in watched.requests} - {"console.test", "tiles.test"}
    assert other_hosts == set()
    assert_accessible(page)


def test_map_sites_are_chosen_with_the_keyboard(new_page: Any) -> None:
    watched = new_page()
    open_harness(watched)
    page = watched.page
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.getAttribute('data-site')")
    assert focused in {c.camera_id for c in SOUTH_EAST}
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text=f"Selected {focused}").wait_for()
    assert page.locator(f'g[data-site="{focused}"]').get_attribute("aria-pressed") == "true"
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    second = page.evaluate("() => document.activeElement.getAttribute('data-site')")
    assert second != focused
    page.get_by_role("status").filter(has_text=f"Selected {second}").wait_for()


def test_timeline_places_sightings_by_time_with_round_ticks(new_page: Any) -> None:
    watched = new_page()
    open_harness(watched)
    page = watched.page
    marks = {
        str(m.get_attribute("data-sighting")): (
            float(m.get_attribute("cx") or 0),
            float(m.get_attribute("cy") or 0),
        )
        for m in page.locator("circle.timeline-mark").all()
    }
    assert set(marks) == {s["id"] for s in SIGHTINGS}
    xs = [marks[s["id"]][0] for s in SIGHTINGS]
    assert xs == sorted(xs)
    # Positions are proportional to time: s4 is 105 of the 150 minutes from s1 to s5.
    assert (xs[3] - xs[0]) / (xs[4] - xs[0]) == pytest.approx(105 / 150, abs=0.01)
    # s2 and s3 are 30 s apart: drawn in different rows so both stay visible.
    assert marks["s2"][1] != marks["s3"][1]
    ticks = page.locator("g.timeline-tick").all()
    assert 2 <= len(ticks) <= 8
    instants = [str(t.get_attribute("data-at")) for t in ticks]
    assert all(re.fullmatch(r"2024-05-30T\d\d:(00|30):00\.000Z", i) for i in instants), instants
    figure = page.locator("figure.timeline svg")
    assert figure.get_attribute("aria-label", timeout=1000).startswith("Timeline of 5 sightings")  # type: ignore[union-attr]
