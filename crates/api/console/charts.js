// A small SVG line chart of time series: a y axis from 0, a time axis over a fixed window, one
// line per series (broken where samples are missing) and a dot with a tooltip per point.

import { h, svg } from './ui.js';

const WIDTH = 480;
const HEIGHT = 200;
const PAD = { top: 14, right: 14, bottom: 26, left: 48 };

/**
 * @param {object} chart
 * @param {string} chart.metric  the `data-metric` of the `svg.chart`
 * @param {string} chart.title
 * @param {{label: string, points: [number, number][]}[]} chart.series  points are [time ms, value]
 * @param {number} chart.from  start of the time axis (ms)
 * @param {number} chart.to  end of the time axis (ms)
 * @param {number} chart.gapMs  points further apart than this are not joined
 * @param {(value: number) => string} chart.format  a value as text, with its unit
 */
export function lineChart({ metric, title, series, from, to, gapMs, format }) {
  const values = series.flatMap((s) => s.points.map(([, v]) => v));
  const times = new Set(series.flatMap((s) => s.points.map(([t]) => t)));
  const max = niceCeiling(Math.max(0, ...values));
  const x = (t) => round(PAD.left + ((t - from) / (to - from)) * (WIDTH - PAD.left - PAD.right));
  const y = (v) => round(HEIGHT - PAD.bottom - (v / max) * (HEIGHT - PAD.top - PAD.bottom));

  const chart = svg(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      role: 'img',
      'aria-label': describe(title, series, format),
      'data-metric': metric,
      'data-points': times.size,
    },
    yAxis(max, y, format),
    timeAxis(from, to, x),
    series.map((s, i) => drawSeries(s, `series-${i}`, x, y, gapMs, format)),
    times.size === 0 && svg('text', { class: 'empty', x: WIDTH / 2, y: HEIGHT / 2, 'text-anchor': 'middle' }, 'No data yet'),
  );
  const legend =
    series.length > 1 &&
    h('ul', { class: 'legend' }, series.map((s, i) => h('li', {}, h('span', { class: `swatch series-${i}` }), s.label)));
  return h('figure', { class: 'chart-card' }, h('figcaption', {}, title), chart, legend);
}

function yAxis(max, y, format) {
  return [0, max / 2, max].map((value) =>
    svg(
      'g',
      {},
      svg('line', { class: 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }),
      svg('text', { x: PAD.left - 6, y: y(value) + 4, 'text-anchor': 'end' }, format(value)),
    ),
  );
}

function timeAxis(from, to, x) {
  const ticks = [from, (from + to) / 2, to];
  const anchors = ['start', 'middle', 'end'];
  return ticks.map((t, i) =>
    svg('text', { x: x(t), y: HEIGHT - 8, 'text-anchor': anchors[i] }, clock(t)),
  );
}

function drawSeries({ label, points }, cls, x, y, gapMs, format) {
  const runs = [];
  points.forEach((point, i) => {
    if (i === 0 || point[0] - points[i - 1][0] > gapMs) runs.push([]);
    runs.at(-1).push(point);
  });
  const lines = runs
    .filter((run) => run.length > 1)
    .map((run) => svg('path', { class: `line ${cls}`, d: run.map(([t, v], i) => `${i ? 'L' : 'M'}${x(t)} ${y(v)}`).join(' ') }));
  const dots = points.map(([t, v]) =>
    svg('circle', { class: `dot ${cls}`, cx: x(t), cy: y(v), r: 2.5 }, svg('title', {}, `${clock(t)} ${label}: ${format(v)}`)),
  );
  return [lines, dots];
}

/** The text a screen reader gets for the chart: the latest value of each series. */
function describe(title, series, format) {
  const latest = series
    .filter((s) => s.points.length > 0)
    .map((s) => `${s.label} ${format(s.points.at(-1)[1])}`);
  return latest.length ? `${title}. Latest: ${latest.join(', ')}.` : `${title}. No data yet.`;
}

/** The smallest 1, 2 or 5 times a power of ten that is at least `value` (1 for 0). */
function niceCeiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value);
}

function clock(ms) {
  return new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

function round(n) {
  return Math.round(n * 10) / 10;
}
