// Output of the suite: the console table (cli-table3), the Markdown table and the SVG chart of
// the ratios (vega-lite compiled to vega, rendered headless to SVG).
import Table from 'cli-table3';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { METRICS } from './workloads.mjs';

const si = (v, digits = 2) => {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(digits)} G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(digits)} M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  return v.toFixed(a >= 100 ? 0 : 1);
};

const bytes = (v) =>
  Math.abs(v) >= 10 * 1024 ? `${(v / 1024).toFixed(1)} KiB` : `${v.toFixed(0)} B`;

/** A metric value with its unit, for tables. */
export function formatValue(metric, v) {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  switch (metric) {
    case 'gbitPerSec':
      return `${v.toFixed(2)} Gbit/s`;
    case 'cpuSecPerGB':
      return `${v.toFixed(3)} s/GB`;
    case 'p50Us':
    case 'p99Us':
      return `${v.toFixed(1)} µs`;
    case 'serverBytesPerConn':
    case 'clientBytesPerConn':
      return bytes(v);
    case 'gcCycles':
      return v.toFixed(0);
    default:
      return `${si(v)} ${METRICS[metric]?.unit ?? ''}`.trim();
  }
}

const withSpread = (metric, s) =>
  s === undefined
    ? '–'
    : formatValue(metric, s.value) + (s.spread > 0 ? ` ±${(s.spread * 50).toFixed(0)}%` : '');

const ratioText = (r) => (r === undefined || !Number.isFinite(r) ? '–' : `${r.toFixed(2)}×`);

/** Column headers and cells of the result table (shared by the console and Markdown). */
function tableData(rows, backends) {
  const head = ['workload', 'metric', 'baseline'];
  for (const b of backends) head.push(`zerosock ${b}`, `× ${b}`);
  head.push('checked', 'notes');
  const body = rows.map((r) => {
    const m = METRICS[r.metric];
    const cells = [
      r.label,
      `${m.unit} ${m.better === 'higher' ? '↑' : '↓'}`,
      withSpread(r.metric, r.baseline),
    ];
    for (const b of backends)
      cells.push(withSpread(r.metric, r.zerosock[b]), ratioText(r.ratio[b]));
    cells.push(r.verified ? 'ok' : 'FAILED', r.note ?? '');
    return cells;
  });
  return { head, body };
}

/** The console table. */
export function consoleTable(rows, backends) {
  const { head, body } = tableData(rows, backends);
  const t = new Table({ head, style: { head: [], border: [] }, wordWrap: true, colWidths: [] });
  const right = new Set(head.map((h, i) => (i >= 2 && h !== 'checked' && h !== 'notes' ? i : -1)));
  for (const cells of body) {
    t.push(cells.map((c, i) => (right.has(i) ? { content: c, hAlign: 'right' } : c)));
  }
  return t.toString();
}

/** The Markdown table. */
export function markdownTable(rows, backends) {
  const { head, body } = tableData(rows, backends);
  const esc = (s) => String(s).replaceAll('|', '\\|');
  const align = head.map((h, i) => (i >= 2 && h !== 'checked' && h !== 'notes' ? '---:' : '---'));
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...body.map((cells) => `| ${cells.map(esc).join(' | ')} |`),
  ].join('\n');
}

/**
 * SVG bar chart: for every row and backend, how many times better zerosock is than the baseline
 * (the ratio for higher-is-better metrics, its inverse for lower-is-better ones), log scale.
 * `sides` names what is compared (default `zerosock <backend>` against node:net).
 */
export async function ratioChart(
  rows,
  backends,
  title,
  {
    subtitle = '× better than the baseline (node:net unless noted); 1 = same',
    side = (b) => `zerosock ${b}`,
    axis = 'zerosock advantage (×, log scale)',
  } = {},
) {
  const values = [];
  for (const r of rows) {
    const sides = r.backendIndependent ? [backends[0]] : backends;
    for (const b of sides) {
      const ratio = r.ratio[b];
      if (ratio === undefined || !Number.isFinite(ratio) || ratio <= 0) continue;
      const better = METRICS[r.metric].better === 'higher' ? ratio : 1 / ratio;
      values.push({
        row: `${r.label} [${METRICS[r.metric].unit}]`,
        side: r.backendIndependent ? 'no socket' : side(b),
        advantage: Number(better.toFixed(3)),
        label: `${better.toFixed(2)}×`,
      });
    }
  }
  const order = [...new Set(values.map((v) => v.row))];
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: title,
      subtitle,
    },
    width: 420,
    height: { step: 12, for: 'offset' },
    data: { values },
    layer: [
      {
        mark: { type: 'bar', height: { band: 0.9 } },
        encoding: {
          // Bars grow from 1 (same as the baseline): right = zerosock better, left = worse.
          x2: { datum: 1 },
          y: { field: 'row', type: 'nominal', sort: order, title: null, axis: { labelLimit: 520 } },
          yOffset: { field: 'side' },
          x: {
            field: 'advantage',
            type: 'quantitative',
            scale: {
              type: 'log',
              domain: [
                Math.min(0.5, ...values.map((v) => v.advantage / 1.3)),
                Math.max(2, ...values.map((v) => v.advantage * 1.3)),
              ],
            },
            title: axis,
          },
          color: { field: 'side', type: 'nominal', title: null, legend: { orient: 'bottom' } },
        },
      },
      // Value labels outside the bar end: right of bars > 1, left of bars < 1.
      ...[
        ['datum.advantage >= 1', 'left', 3],
        ['datum.advantage < 1', 'right', -3],
      ].map(([filter, align, dx]) => ({
        transform: [{ filter }],
        mark: { type: 'text', align, dx, fontSize: 9, baseline: 'middle' },
        encoding: {
          y: { field: 'row', type: 'nominal', sort: order },
          yOffset: { field: 'side' },
          x: { field: 'advantage', type: 'quantitative' },
          text: { field: 'label' },
        },
      })),
      {
        data: { values: [{ one: 1 }] },
        mark: { type: 'rule', strokeDash: [4, 3], color: '#444' },
        encoding: { x: { field: 'one', type: 'quantitative' } },
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
