// Renders benchmark results: markdown tables and SVG charts.
import type { Row } from './scenarios';

/** One scenario's results. */
export interface Section {
  title: string;
  note: string;
  rows: Row[];
}

/**
 * A markdown table of rows (columns from the first row).
 * @param rows the rows
 */
export function table(rows: Row[]): string {
  if (rows.length === 0) {
    return '_no rows_\n';
  }
  const columns = Object.keys(rows[0]);
  const lines = [
    `| ${columns.join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${columns.map((column) => String(row[column] ?? '')).join(' | ')} |`),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The whole report.
 * @param machine the machine line
 * @param sections every scenario
 */
export function markdown(machine: string, sections: Section[]): string {
  return [
    '# nest-lock benchmark',
    '',
    machine,
    '',
    ...sections.flatMap((section) => [`## ${section.title}`, '', section.note, '', table(section.rows)]),
  ].join('\n');
}

const COLORS: Record<string, string> = {
  PING: '#9e9e9e',
  ideal: '#616161',
  'nest-lock': '#e0234e',
  'nest-lock autoExtend:false': '#f06292',
  'nest-lock @Locked': '#ad1457',
  'nest-lock @Locked autoExtend:false': '#f8bbd0',
  redlock: '#1e88e5',
  'redis-semaphore': '#43a047',
  'redlock-universal': '#8e24aa',
};

interface Panel {
  title: string;
  unit: string;
  bars: Array<{ label: string; value: number }>;
}

/**
 * A bar chart, one panel per metric, as plain SVG.
 * @param panels the metrics
 */
export function chart(panels: Panel[]): string {
  const width = 300;
  const height = 270;
  const body = panels
    .map((panel, index) => {
      const x0 = index * width;
      const max = Math.max(...panel.bars.map((bar) => bar.value), 1e-9);
      const barWidth = (width - 60) / Math.max(1, panel.bars.length);
      const bars = panel.bars
        .map((bar, i) => {
          const h = (bar.value / max) * 140;
          const x = x0 + 40 + i * barWidth;
          const y = 210 - h;
          return [
            `<rect x="${x + 4}" y="${y}" width="${barWidth - 8}" height="${h}" fill="${COLORS[bar.label] ?? '#777'}"/>`,
            `<text x="${x + barWidth / 2}" y="${y - 4}" font-size="11" text-anchor="middle">${format(bar.value)}</text>`,
          ].join('');
        })
        .join('');
      return [
        `<text x="${x0 + width / 2}" y="22" font-size="13" font-weight="bold" text-anchor="middle">${panel.title}</text>`,
        `<text x="${x0 + width / 2}" y="38" font-size="11" text-anchor="middle" fill="#555">${panel.unit}</text>`,
        `<line x1="${x0 + 36}" y1="210" x2="${x0 + width - 16}" y2="210" stroke="#333"/>`,
        bars,
      ].join('');
    })
    .join('');
  const names = panels.flatMap((panel) => panel.bars.map((bar) => bar.label));
  return svg(width * panels.length, height, body + legend(names, 40, 238));
}

/** One colour swatch and name per contender, in a row from `x` at `y`. */
function legend(names: string[], x: number, y: number): string {
  let lx = x;
  return [...new Set(names)]
    .map((name) => {
      const at = lx;
      // About 7 px per character at font-size 12, after the swatch.
      lx += 40 + name.length * 7;
      return `<rect x="${at}" y="${y}" width="14" height="14" fill="${COLORS[name] ?? '#777'}"/><text x="${at + 20}" y="${y + 12}" font-size="12">${name}</text>`;
    })
    .join('');
}

/** A standalone SVG document on a white background. */
function svg(width: number, height: number, content: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>${content}
</svg>
`;
}

function format(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)}k` : value >= 10 ? value.toFixed(0) : value.toFixed(1);
}

/**
 * The wait distribution of each contender (the share of acquisitions that waited at most x ms, x on a log
 * scale), one panel per contention scenario, as plain SVG.
 * @param scenarios each scenario's title and every contender's waits in ms
 */
export function distributionChart(scenarios: Array<{ title: string; series: Map<string, number[]> }>): string {
  const width = 460;
  const height = 300;
  const left = 50;
  const plotWidth = width - left - 20;
  const top = 40;
  const plotHeight = 190;
  const min = 0.01;
  const max = Math.max(10, ...scenarios.flatMap(({ series }) => [...series.values()].map((waits) => Math.max(...waits))));
  const decades = Math.ceil(Math.log10(max / min));
  const x = (ms: number): number => left + (Math.log10(Math.max(ms, min) / min) / decades) * plotWidth;
  const y = (share: number): number => top + plotHeight - share * plotHeight;
  const body = scenarios
    .map(({ title, series }, index) => {
      const x0 = index * width;
      const ticks = Array.from({ length: decades + 1 }, (_, decade) => {
        const ms = min * 10 ** decade;
        const tx = x0 + x(ms);
        return `<line x1="${tx}" y1="${top}" x2="${tx}" y2="${top + plotHeight}" stroke="#eee"/><text x="${tx}" y="${top + plotHeight + 14}" font-size="10" text-anchor="middle">${ms >= 1 ? ms.toFixed(0) : ms}</text>`;
      }).join('');
      const lines = [...series.entries()]
        .map(([name, waits]) => {
          const sorted = [...waits].sort((a, b) => a - b);
          const step = Math.max(1, Math.floor(sorted.length / 400));
          const points = sorted.flatMap((wait, i) =>
            i % step === 0 || i === sorted.length - 1 ? [`${(x0 + x(wait)).toFixed(1)},${y((i + 1) / sorted.length).toFixed(1)}`] : [],
          );
          return `<polyline fill="none" stroke="${COLORS[name] ?? '#777'}" stroke-width="2" points="${points.join(' ')}"/>`;
        })
        .join('');
      return [
        `<text x="${x0 + width / 2}" y="20" font-size="13" font-weight="bold" text-anchor="middle">${title}</text>`,
        `<rect x="${x0 + left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333"/>`,
        ticks,
        `<text x="${x0 + left + plotWidth / 2}" y="${top + plotHeight + 30}" font-size="11" text-anchor="middle" fill="#555">wait ms (log scale)</text>`,
        `<text x="${x0 + 14}" y="${top + plotHeight / 2}" font-size="11" fill="#555" transform="rotate(-90 ${x0 + 14} ${top + plotHeight / 2})" text-anchor="middle">share waiting at most x</text>`,
        lines,
      ].join('');
    })
    .join('');
  const names = scenarios.flatMap(({ series }) => [...series.keys()]);
  return svg(Math.max(1, scenarios.length) * width, height, body + legend(names, 60, height - 22));
}
