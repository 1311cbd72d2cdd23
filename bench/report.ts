// Renders benchmark results: markdown tables and an SVG chart of scenarios 1 to 3.
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
  redlock: '#1e88e5',
  'redis-semaphore': '#43a047',
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
  const names = [...new Set(panels.flatMap((panel) => panel.bars.map((bar) => bar.label)))];
  const legend = names
    .map((name, i) => {
      const x = 40 + i * 170;
      return `<rect x="${x}" y="238" width="14" height="14" fill="${COLORS[name] ?? '#777'}"/><text x="${x + 20}" y="250" font-size="12">${name}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width * panels.length}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>${body}${legend}
</svg>
`;
}

function format(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)}k` : value >= 10 ? value.toFixed(0) : value.toFixed(1);
}
