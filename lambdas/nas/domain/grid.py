"""A coarse area for subject-access exports (R-SAR, R-CAMERA): the 10 km square of the Ordnance Survey
National Grid holding a point, e.g. `TR15` (100 km square TR, 10 km column 1, row 5). A camera's site
is sensitive; a 10 km square of the grid is what an export may show.

The point (WGS84 latitude and longitude, as reads and cameras carry them) is projected with the
National Grid's Transverse Mercator (Airy 1830 ellipsoid, true origin 49°N 2°W, false origin -100 km
N, +400 km E, scale 0.9996012717; OS "A guide to coordinate systems in Great Britain", annex C). The
WGS84 to OSGB36 datum shift (about 120 m at most) is not applied: at 10 km it moves a point into a
neighbouring square only within 120 m of a square's edge, which is no finer an area. Points beyond the
grid's 700 km by 1,300 km have no square.
"""

from __future__ import annotations

import math

_A, _B = 6_377_563.396, 6_356_256.909
_F0 = 0.9996012717
_LAT0, _LON0 = math.radians(49.0), math.radians(-2.0)
_N0, _E0 = -100_000.0, 400_000.0
_E2 = 1 - (_B * _B) / (_A * _A)
_N = (_A - _B) / (_A + _B)
SQUARE_M = 10_000
"""The side of the square an export shows: at least 10 km (R-SAR)."""
OUTSIDE = "outside the National Grid"


def _meridional_arc(lat: float) -> float:
    n, dlat, slat = _N, lat - _LAT0, lat + _LAT0
    return (
        _B
        * _F0
        * (
            (1 + n + 5 / 4 * n**2 + 5 / 4 * n**3) * dlat
            - (3 * n + 3 * n**2 + 21 / 8 * n**3) * math.sin(dlat) * math.cos(slat)
            + (15 / 8 * n**2 + 15 / 8 * n**3) * math.sin(2 * dlat) * math.cos(2 * slat)
            - 35 / 24 * n**3 * math.sin(3 * dlat) * math.cos(3 * slat)
        )
    )


def easting_northing(lat_deg: float, lon_deg: float) -> tuple[float, float]:
    """National Grid easting and northing in metres of a WGS84 point (datum shift not applied)."""
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    sin, cos, tan = math.sin(lat), math.cos(lat), math.tan(lat)
    nu = _A * _F0 / math.sqrt(1 - _E2 * sin**2)
    rho = _A * _F0 * (1 - _E2) / (1 - _E2 * sin**2) ** 1.5
    eta2 = nu / rho - 1
    i = _meridional_arc(lat) + _N0
    ii = nu / 2 * sin * cos
    iii = nu / 24 * sin * cos**3 * (5 - tan**2 + 9 * eta2)
    iiia = nu / 720 * sin * cos**5 * (61 - 58 * tan**2 + tan**4)
    iv = nu * cos
    v = nu / 6 * cos**3 * (nu / rho - tan**2)
    vi = nu / 120 * cos**5 * (5 - 18 * tan**2 + tan**4 + 14 * eta2 - 58 * tan**2 * eta2)
    d = lon - _LON0
    northing = i + ii * d**2 + iii * d**4 + iiia * d**6
    easting = _E0 + iv * d + v * d**3 + vi * d**5
    return easting, northing


def grid_square(lat: float | None, lon: float | None) -> str:
    """The 10 km National Grid square of a point (`TR15`), or OUTSIDE when it has none."""
    if lat is None or lon is None:
        return OUTSIDE
    easting, northing = easting_northing(lat, lon)
    e100k, n100k = math.floor(easting / 100_000), math.floor(northing / 100_000)
    if not (0 <= e100k <= 6 and 0 <= n100k <= 12):
        return OUTSIDE
    # The two letters of the 100 km square: 500 km squares from S (the false origin's), then 100 km
    # squares within, each on a 5 x 5 grid of the alphabet without I.
    first = (19 - n100k) - (19 - n100k) % 5 + (e100k + 10) // 5
    second = (19 - n100k) * 5 % 25 + e100k % 5
    letters = "".join(chr(ord("A") + (i + 1 if i > 7 else i)) for i in (first, second))
    column = math.floor(easting % 100_000 / SQUARE_M)
    row = math.floor(northing % 100_000 / SQUARE_M)
    return f"{letters}{column}{row}"
