/** Sightings along a time axis, UK time, with round ticks; marks that would overlap move to another
 * row so each stays visible. */

import { formatTime } from "./ui";

export interface Sighting {
  id: string;
  at: string;
  label: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const STEPS = [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY];
const MAX_TICKS = 8;
const MARGIN = 24;
const ROW_HEIGHT = 14;
const MARK_RADIUS = 5;

const TICK_TIME = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/London", hour: "2-digit", minute: "2-digit" });
const TICK_DAY = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/London", day: "numeric", month: "short" });

export function tickStep(span: number): number {
  return STEPS.find((step) => span / step <= MAX_TICKS) ?? STEPS[STEPS.length - 1]!;
}

export function Timeline(props: { sightings: readonly Sighting[]; width?: number; from?: string; to?: string }) {
  const width = props.width ?? 640;
  const times = props.sightings.map((s) => new Date(s.at).getTime()).filter((t) => !Number.isNaN(t));
  let start = props.from ? new Date(props.from).getTime() : Math.min(...times);
  let end = props.to ? new Date(props.to).getTime() : Math.max(...times);
  if (!Number.isFinite(start) || !Number.isFinite(end)) {
    end = Date.now();
    start = end - DAY;
  }
  if (end - start < MINUTE) {
    start -= 30 * MINUTE;
    end += 30 * MINUTE;
  } else if (!props.from && !props.to) {
    const pad = (end - start) * 0.05;
    start -= pad;
    end += pad;
  }
  const span = end - start;
  const x = (t: number) => MARGIN + ((t - start) / span) * (width - 2 * MARGIN);
  const step = tickStep(span);
  const ticks: number[] = [];
  for (let t = Math.ceil(start / step) * step; t <= end; t += step) ticks.push(t);

  // Greedy rows: a mark goes in the first row where it clears the previous mark.
  const rowEnds: number[] = [];
  const marks = props.sightings
    .map((s) => ({ sighting: s, t: new Date(s.at).getTime() }))
    .filter((m) => !Number.isNaN(m.t))
    .sort((a, b) => a.t - b.t)
    .map((m) => {
      const mx = x(m.t);
      let row = rowEnds.findIndex((endX) => mx - endX >= 2 * MARK_RADIUS + 2);
      if (row === -1) {
        row = rowEnds.length;
        rowEnds.push(mx);
      } else {
        rowEnds[row] = mx;
      }
      return { ...m, mx, row };
    });
  const rows = Math.max(1, rowEnds.length);
  const axisY = 12 + rows * ROW_HEIGHT;
  const height = axisY + 28;
  const label =
    `Timeline of ${marks.length} sighting${marks.length === 1 ? "" : "s"}` +
    (marks.length ? ` from ${formatTime(new Date(start).toISOString())} to ${formatTime(new Date(end).toISOString())}` : "");

  return (
    <figure class="timeline">
      <svg role="img" aria-label={label} viewBox={`0 0 ${width} ${height}`} width={width} height={height}>
        <line class="timeline-axis" x1={MARGIN} x2={width - MARGIN} y1={axisY} y2={axisY} />
        {ticks.map((t) => (
          <g key={t} class="timeline-tick" transform={`translate(${x(t).toFixed(1)} ${axisY})`} data-at={new Date(t).toISOString()}>
            <line y1={0} y2={5} />
            <text y={18} text-anchor="middle">
              {step >= DAY ? TICK_DAY.format(t) : TICK_TIME.format(t)}
            </text>
          </g>
        ))}
        {marks.map((m) => (
          <circle
            key={m.sighting.id}
            class="timeline-mark"
            data-sighting={m.sighting.id}
            cx={m.mx.toFixed(1)}
            cy={axisY - 8 - m.row * ROW_HEIGHT}
            r={MARK_RADIUS}
          >
            <title>
              {m.sighting.label}, {formatTime(m.sighting.at)}
            </title>
          </circle>
        ))}
      </svg>
      <figcaption>{label}</figcaption>
    </figure>
  );
}
