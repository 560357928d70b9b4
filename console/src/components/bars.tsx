/** A horizontal bar chart in inline SVG (no chart library: a few rectangles and labels), for counts
 * some of which are withheld. A withheld count (R-STATS: 1 to `below` − 1, shown as `<5`) is never
 * drawn or read as zero: its bar's dashed part spans what the withheld counts may add, and its figure
 * says `<5`, or the range a total with withheld parts allows. The figures are in the picture and, for
 * screen readers, in the image's accessible name. */

const COUNT = new Intl.NumberFormat("en-GB");
const ROW = 22;
const LABEL = 96;
const BAR = 360;

/** Counts known exactly, and how many withheld cells (each 1 to below − 1) add to them. */
export interface Total {
  known: number;
  withheld: number;
}

/** Sums the API's cells (`count`: a number or `<5`) by `key`; `keys` come first, as zero, so a chart
 * of hours has every hour. */
export function totals<T extends { count: number | string }>(
  cells: T[],
  key: (cell: T) => string,
  keys: string[] = [],
): [string, Total][] {
  const sums = new Map<string, Total>(keys.map((k) => [k, { known: 0, withheld: 0 }]));
  for (const cell of cells) {
    const sum = sums.get(key(cell)) ?? { known: 0, withheld: 0 };
    if (typeof cell.count === "number") sum.known += cell.count;
    else sum.withheld += 1;
    sums.set(key(cell), sum);
  }
  return [...sums];
}

const most = (t: Total, below: number) => t.known + t.withheld * (below - 1);

export function figure(t: Total, below: number): string {
  if (!t.withheld) return COUNT.format(t.known);
  if (!t.known && t.withheld === 1) return `<${below}`;
  return `${COUNT.format(t.known + t.withheld)}–${COUNT.format(most(t, below))}`;
}

export function Bars(props: { name: string; title: string; rows: [string, Total][]; below: number; label?: (key: string) => string }) {
  const { rows, below } = props;
  const label = props.label ?? ((key: string) => key);
  const max = Math.max(1, ...rows.map(([, t]) => most(t, below)));
  const width = (n: number) => (n / max) * BAR;
  const figures = rows.map(([key, t]) => `${label(key)}: ${figure(t, below)}`).join("; ");
  return (
    <figure class="chart" data-chart={props.name}>
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${LABEL + BAR + 90} ${rows.length * ROW}`} role="img" aria-label={`${props.title}: ${figures}`}>
        {rows.map(([key, t], i) => {
          const y = i * ROW;
          return (
            <g key={key} data-key={key}>
              <text class="chart-label" x={LABEL - 8} y={y + 15} text-anchor="end">
                {label(key)}
              </text>
              <rect class="chart-bar" x={LABEL} y={y + 3} height={ROW - 6} width={width(t.known)} />
              {t.withheld ? (
                <rect class="chart-withheld" x={LABEL + width(t.known)} y={y + 3} height={ROW - 6} width={width(most(t, below) - t.known)} />
              ) : null}
              <text class="chart-value" x={LABEL + width(most(t, below)) + 6} y={y + 15}>
                {figure(t, below)}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
