/** Camera sites as points on a base layer. With no tile URL (the default of every stage) the points
 * sit on a plain Web Mercator plane with a scale bar and nothing is fetched; with the stage's
 * `console_tile_url` set, tiles come from there and nowhere else (R-UK: no public tile server is
 * built in). Points can be chosen with the keyboard as well as the mouse. */

import { boundsOf, fitZoom, metresPerPixel, project, scaleBar, tilesFor, tileUrl } from "./geo";

export interface Site {
  id: string;
  lat: number;
  lon: number;
  /** How many sightings the site has; drawn as a larger point. */
  count?: number;
}

/** Where the view centres with no sites: Great Britain. */
const HOME = { lat: 54.0, lon: -2.5, zoom: 5 };
const PADDING = 24;
const SCALE_MAX_PX = 120;

export function CameraMap(props: {
  sites: readonly Site[];
  tileUrl: string;
  width?: number;
  height?: number;
  selected?: string | null;
  onSelect?: (site: Site) => void;
  label?: string;
}) {
  const width = props.width ?? 640;
  const height = props.height ?? 420;
  const bounds = boundsOf(props.sites);
  const zoom = bounds ? fitZoom(bounds, width, height, PADDING) : HOME.zoom;
  const centreLat = bounds ? (bounds.north + bounds.south) / 2 : HOME.lat;
  const nw = bounds ? project(bounds.north, bounds.west, zoom) : project(HOME.lat, HOME.lon, zoom);
  const se = bounds ? project(bounds.south, bounds.east, zoom) : nw;
  const origin = { x: (nw.x + se.x) / 2 - width / 2, y: (nw.y + se.y) / 2 - height / 2 };
  const scale = scaleBar(metresPerPixel(centreLat, zoom), SCALE_MAX_PX);
  const tiles = props.tileUrl ? tilesFor(origin, width, height, zoom) : [];
  const label = props.label ?? `Map of ${props.sites.length} camera site${props.sites.length === 1 ? "" : "s"}`;

  return (
    <figure class="map" data-zoom={zoom}>
      <svg
        role="group"
        aria-label={label}
        viewBox={`0 0 ${width} ${height}`}
        width={width}
        height={height}
        class={props.tileUrl ? "tiled" : "plain"}
      >
        <rect class="map-ground" x={0} y={0} width={width} height={height} />
        {tiles.map((tile) => (
          <image
            key={`${tile.z}/${tile.x}/${tile.y}/${tile.left}`}
            class="map-tile"
            href={tileUrl(props.tileUrl, tile)}
            x={tile.left}
            y={tile.top}
            width={256}
            height={256}
            aria-hidden="true"
          />
        ))}
        {props.sites.map((site) => {
          const at = project(site.lat, site.lon, zoom);
          const x = at.x - origin.x;
          const y = at.y - origin.y;
          const radius = 6 + Math.min(6, Math.log2(1 + (site.count ?? 0)));
          const selected = props.selected === site.id;
          const name = `${site.id}${site.count ? `, ${site.count} sighting${site.count === 1 ? "" : "s"}` : ""}`;
          const select = props.onSelect;
          return (
            <g
              key={site.id}
              class={`map-site${selected ? " selected" : ""}`}
              data-site={site.id}
              transform={`translate(${x.toFixed(1)} ${y.toFixed(1)})`}
              role={select ? "button" : "img"}
              aria-label={name}
              aria-pressed={select ? selected : undefined}
              tabindex={select ? 0 : undefined}
              onClick={select ? () => select(site) : undefined}
              onKeyDown={
                select
                  ? (event) => {
                      if (event.key === "Enter" || event.key === " ") {
                        event.preventDefault();
                        select(site);
                      }
                    }
                  : undefined
              }
            >
              <title>{name}</title>
              <circle class="map-focus" r={radius + 5} />
              <circle class="map-point" r={radius} />
              {selected ? (
                <text class="map-label" x={radius + 4} y={4}>
                  {site.id}
                </text>
              ) : null}
            </g>
          );
        })}
        <g class="map-scale" transform={`translate(${PADDING / 2} ${height - PADDING / 2})`} data-metres={scale.metres}>
          <rect class="map-scale-bg" x={-4} y={-22} width={scale.pixels + 8} height={28} />
          <path class="map-scale-bar" d={`M0 -6 V0 H${scale.pixels.toFixed(1)} V-6`} data-pixels={scale.pixels.toFixed(2)} />
          <text class="map-scale-label" x={0} y={-9}>
            {scale.label}
          </text>
        </g>
      </svg>
      <figcaption>
        {label}
        {props.tileUrl ? "" : " (plain projection: no base map is configured)"}
      </figcaption>
    </figure>
  );
}
