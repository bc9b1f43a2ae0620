/**
 * A job's outcome breakdown as a picture: one bar per outcome with its count written on it, every
 * number taken from the job's record (the same counts `jobs <id>` prints).
 */
import type { JobRecord } from '../store/schema.ts';
import { labelledBars, PAGE, renderVegaLite, type RenderedChart } from './stats-chart.ts';

export function jobChartSpec(job: Pick<JobRecord, 'id' | 'kind' | 'state' | 'selection' | 'total' | 'done' | 'counts'>): object {
  const values = Object.entries(job.counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([outcome, nodes]) => ({ outcome, nodes }));
  const bars = labelledBars('', values.length ? values : [{ outcome: 'no node checked yet', nodes: 0 }], 'outcome', 'nodes', { value: '#1e88e5' });
  return {
    ...PAGE,
    ...bars,
    title: { text: `${job.kind} ${job.id}: ${job.done.toLocaleString('en-US')} of ${job.total.toLocaleString('en-US')} nodes, ${job.state}`, subtitle: job.selection.slice(0, 80), fontSize: 15 },
    width: 480,
  };
}

export function renderJobChart(job: Parameters<typeof jobChartSpec>[0]): Promise<RenderedChart> {
  return renderVegaLite(jobChartSpec(job));
}
