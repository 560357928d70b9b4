/** Web Mercator arithmetic for the map (EPSG:3857, the projection of the usual XYZ tile servers),
 * kept apart from drawing so it can be reasoned about and tested alone. */

export const TILE_SIZE = 256;
export const MAX_ZOOM = 16;
const EARTH_RADIUS_M = 6_378_137;
const MAX_LATITUDE = 85.05112878;

export interface Point {
  x: number;
  y: number;
}

/** World pixel coordinates of a position at a zoom level: (0, 0) is the north-west corner. */
export function project(lat: number, lon: number, zoom: number): Point {
  const clamped = Math.max(-MAX_LATITUDE, Math.min(MAX_LATITUDE, lat));
  const sin = Math.sin((clamped * Math.PI) / 180);
  const size = TILE_SIZE * 2 ** zoom;
  return {
    x: ((lon + 180) / 360) * size,
    y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * size,
  };
}

/** Ground metres one pixel covers at a latitude and zoom. */
export function metresPerPixel(lat: number, zoom: number): number {
  return (2 * Math.PI * EARTH_RADIUS_M * Math.cos((lat * Math.PI) / 180)) / (TILE_SIZE * 2 ** zoom);
}

export interface Bounds {
  south: number;
  west: number;
  north: number;
  east: number;
}

export function boundsOf(points: readonly { lat: number; lon: number }[]): Bounds | null {
  if (points.length === 0) return null;
  return {
    south: Math.min(...points.map((p) => p.lat)),
    north: Math.max(...points.map((p) => p.lat)),
    west: Math.min(...points.map((p) => p.lon)),
    east: Math.max(...points.map((p) => p.lon)),
  };
}

/** The highest whole zoom at which the bounds fit in width × height less the padding: whole zooms
 * keep tiles at their native size. */
export function fitZoom(bounds: Bounds, width: number, height: number, padding: number): number {
  for (let zoom = MAX_ZOOM; zoom > 0; zoom--) {
    const nw = project(bounds.north, bounds.west, zoom);
    const se = project(bounds.south, bounds.east, zoom);
    if (se.x - nw.x <= width - 2 * padding && se.y - nw.y <= height - 2 * padding) return zoom;
  }
  return 0;
}

export interface ScaleBar {
  pixels: number;
  metres: number;
  label: string;
}

/** The longest round distance (1, 2 or 5 × 10ⁿ metres) whose bar is at most `maxPixels` long. */
export function scaleBar(metresPerPx: number, maxPixels: number): ScaleBar {
  const limit = metresPerPx * maxPixels;
  let metres = 1;
  for (let power = 10 ** Math.floor(Math.log10(limit)); power >= 1; power /= 10) {
    const step = [5, 2, 1].map((m) => m * power).find((d) => d <= limit);
    if (step) {
      metres = step;
      break;
    }
  }
  const label = metres >= 1000 ? `${metres / 1000} km` : `${metres} m`;
  return { pixels: metres / metresPerPx, metres, label };
}

export interface Tile {
  z: number;
  x: number;
  y: number;
  /** Where the tile's top-left corner is drawn, in view pixels. */
  left: number;
  top: number;
}

/** The tiles covering a view whose top-left corner is at world pixel `origin`. */
export function tilesFor(origin: Point, width: number, height: number, zoom: number): Tile[] {
  const count = 2 ** zoom;
  const tiles: Tile[] = [];
  const firstX = Math.floor(origin.x / TILE_SIZE);
  const lastX = Math.floor((origin.x + width - 1) / TILE_SIZE);
  const firstY = Math.max(0, Math.floor(origin.y / TILE_SIZE));
  const lastY = Math.min(count - 1, Math.floor((origin.y + height - 1) / TILE_SIZE));
  for (let ty = firstY; ty <= lastY; ty++) {
    for (let tx = firstX; tx <= lastX; tx++) {
      tiles.push({
        z: zoom,
        x: ((tx % count) + count) % count,
        y: ty,
        left: tx * TILE_SIZE - origin.x,
        top: ty * TILE_SIZE - origin.y,
      });
    }
  }
  return tiles;
}

/** A tile's URL from the stage's template (`{z}`, `{x}`, `{y}`). */
export function tileUrl(template: string, tile: Tile): string {
  return template.replace("{z}", String(tile.z)).replace("{x}", String(tile.x)).replace("{y}", String(tile.y));
}
