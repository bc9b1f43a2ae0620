/**
 * The `stats` picture: nodes by status, the top countries, a histogram of measured download speeds
 * and the status changes of the last 7 days (from node histories), as one PNG. Every number drawn is
 * counted here from the nodes given; nothing is estimated. Rendered in-process without a browser:
 * Vega-Lite -> Vega -> SVG, then resvg -> PNG with the DejaVu Sans font shipped as an npm package
 * (no system font is read), so the image is the same on every host. The renderers are loaded on
 * first use: one-shot commands that draw nothing do not pay for them.
 */
import { createRequire } from 'node:module';
import { STATUSES, type FleetNode } from '../fleet/node.ts';
import { countByCountry, countrySource } from '../geo/country-counts.ts';

export interface StatsChartData {
  total: number;
  byStatus: Array<{ status: string; nodes: number }>;
  topCountries: Array<{ country: string; nodes: number }>;
  /** What the countries are: `located`, `claimed` or both (see countrySource). */
  countrySource: string;
  /** Download speed bins (Mbit/s, [from, to)); only nodes with a measured figure. */
  speedBins: Array<{ from: number; to: number; nodes: number }>;
  speedMeasured: number;
  /** Applied status changes per UTC day and new status, oldest day first. */
  changes: Array<{ day: string; status: string; changes: number }>;
  days: string[];
}

const TOP_COUNTRIES = 10;
const DAYS = 7;

/** Bin width for download speeds: about 12 bins up to the fastest node, on a 1-2-5 scale. */
function binWidth(max: number): number {
  const raw = Math.max(max, 1) / 12;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * pow).find((w) => w >= raw)!;
}

export function statsChartData(nodes: readonly FleetNode[], now: Date = new Date()): StatsChartData {
  const byStatus = new Map<string, number>(STATUSES.map((s) => [s, 0]));
  const speeds: number[] = [];
  const days: string[] = [];
  for (let i = DAYS - 1; i >= 0; i--) days.push(new Date(now.getTime() - i * 86_400_000).toISOString().slice(0, 10));
  const since = days[0]!;
  const changes = new Map<string, number>();
  for (const n of nodes) {
    byStatus.set(n.status, (byStatus.get(n.status) ?? 0) + 1);
    if (n.speed?.downMbps != null) speeds.push(n.speed.downMbps);
    for (const h of n.history) {
      const day = h.at.slice(0, 10);
      if (h.applied === false || day < since || day > days.at(-1)!) continue;
      const key = `${day} ${h.to}`;
      changes.set(key, (changes.get(key) ?? 0) + 1);
    }
  }
  const byCountry = countByCountry(nodes);
  const countries = byCountry.rows.map(([c, k]): [string, number] => [c ?? 'unknown', k]);
  const topCountries = countries.slice(0, TOP_COUNTRIES).map(([country, count]) => ({ country, nodes: count }));
  if (countries.length > TOP_COUNTRIES) topCountries.push({ country: `${countries.length - TOP_COUNTRIES} others`, nodes: countries.slice(TOP_COUNTRIES).reduce((s, [, k]) => s + k, 0) });
  const speedBins: StatsChartData['speedBins'] = [];
  if (speeds.length) {
    const w = binWidth(Math.max(...speeds));
    const counts = new Map<number, number>();
    for (const s of speeds) {
      const b = Math.floor(s / w);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    const last = Math.max(...counts.keys());
    for (let b = 0; b <= last; b++) speedBins.push({ from: +(b * w).toPrecision(6), to: +((b + 1) * w).toPrecision(6), nodes: counts.get(b) ?? 0 });
  }
  return {
    total: nodes.length,
    byStatus: [...byStatus].map(([status, count]) => ({ status, nodes: count })),
    topCountries,
    countrySource: countrySource(byCountry),
    speedBins,
    speedMeasured: speeds.length,
    changes: [...changes].map(([key, count]) => ({ day: key.slice(0, 10), status: key.slice(11), changes: count })).sort((a, b) => a.day.localeCompare(b.day) || a.status.localeCompare(b.status)),
    days,
  };
}

/** One colour per status, the same in every panel. */
const STATUS_COLORS: Record<string, string> = {
  not_tested: '#9e9e9e',
  ping_ok: '#64b5f6',
  ping_failed: '#e57373',
  speed_ok: '#1e88e5',
  auth_failed: '#ff8a65',
  online: '#43a047',
  offline: '#8e24aa',
};
const statusScale = { domain: [...STATUSES], range: STATUSES.map((s) => STATUS_COLORS[s]!) };

const WIDTH = 360;

/** What every Connexa picture shares: the schema, a white page and the shipped font. */
export const PAGE = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  background: 'white',
  padding: 12,
  config: { font: 'DejaVu Sans', view: { stroke: null } },
};

/** A bar per row with its count written at the end of the bar (the numbers are the picture's text). */
export function labelledBars(title: string, values: object[], field: string, label: string, color: object): object {
  return {
    title,
    width: WIDTH,
    data: { values },
    encoding: { y: { field, type: 'nominal', sort: null, title: null }, x: { field: 'nodes', type: 'quantitative', title: label } },
    layer: [
      { mark: 'bar', encoding: { color } },
      { mark: { type: 'text', align: 'left', dx: 3 }, encoding: { text: { field: 'nodes', type: 'quantitative', format: ',' } } },
    ],
  };
}

/** The Vega-Lite specification of the picture (exported for tests and for anyone who wants the JSON). */
export function statsChartSpec(d: StatsChartData): object {
  const status = labelledBars('Nodes by status', d.byStatus, 'status', 'nodes', { field: 'status', type: 'nominal', scale: statusScale, legend: null });
  const countries = labelledBars(`Top countries (${d.countrySource})`, d.topCountries, 'country', 'nodes', { value: '#5c6bc0' });
  const speed = d.speedBins.length
    ? {
        title: `Download speed, ${d.speedMeasured.toLocaleString('en-US')} nodes measured`,
        width: WIDTH,
        data: { values: d.speedBins },
        mark: 'bar',
        encoding: {
          x: { field: 'from', type: 'quantitative', bin: { binned: true }, title: 'Mbit/s' },
          x2: { field: 'to' },
          y: { field: 'nodes', type: 'quantitative', title: 'nodes' },
          color: { value: '#1e88e5' },
        },
      }
    : { title: 'Download speed: no node measured yet', width: WIDTH, data: { values: [{}] }, mark: { type: 'text', text: 'run /connexa speed' } };
  const changes = {
    title: `Status changes, last ${DAYS} days`,
    width: WIDTH,
    data: { values: d.changes.length ? d.changes : [{ day: d.days.at(-1), status: 'not_tested', changes: 0 }] },
    mark: 'bar',
    encoding: {
      x: { field: 'day', type: 'ordinal', scale: { domain: d.days }, title: null, axis: { labelAngle: 0, labelExpr: 'slice(datum.value, 5)' } },
      y: { field: 'changes', type: 'quantitative', title: 'changes', stack: 'zero' },
      color: { field: 'status', type: 'nominal', scale: statusScale, title: 'to' },
    },
  };
  return {
    ...PAGE,
    title: { text: `Connexa: ${d.total.toLocaleString('en-US')} nodes`, fontSize: 16 },
    vconcat: [
      { hconcat: [status, countries] },
      { hconcat: [speed, changes] },
    ],
  };
}

export interface RenderedChart {
  svg: string;
  png: Buffer;
  width: number;
  height: number;
}

const require = createRequire(import.meta.url);

/**
 * resvg's loader asks process.report.getReport() whether libc is musl. A report reverse-resolves the
 * address of every open socket (DNS lookups leaving the host): measured 5 s of blocked event loop in
 * a bot with its platform and probe sockets open. excludeNetwork leaves that part out.
 */
async function loadResvg(): Promise<typeof import('@resvg/resvg-js')> {
  // Node >= 20.13 has the option; @types/node does not declare it yet.
  const report = process.report as NodeJS.ProcessReport & { excludeNetwork?: boolean };
  const before = report.excludeNetwork;
  report.excludeNetwork = true;
  try {
    return await import('@resvg/resvg-js');
  } finally {
    report.excludeNetwork = before;
  }
}

/** Renders a Vega-Lite specification to SVG and PNG with the shipped font only. */
export async function renderVegaLite(spec: object): Promise<RenderedChart> {
  const [vega, vegaLite, { Resvg }] = await Promise.all([import('vega'), import('vega-lite'), loadResvg()]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec as never).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const fontFiles = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) => require.resolve(`dejavu-fonts-ttf/ttf/${f}`));
    const image = new Resvg(svg, { font: { loadSystemFonts: false, fontFiles, defaultFontFamily: 'DejaVu Sans' } }).render();
    return { svg, png: image.asPng(), width: image.width, height: image.height };
  } finally {
    view.finalize();
  }
}

export async function renderStatsChart(nodes: readonly FleetNode[], now: Date = new Date()): Promise<RenderedChart> {
  return renderVegaLite(statsChartSpec(statsChartData(nodes, now)));
}
