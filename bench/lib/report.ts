import { performance } from 'node:perf_hooks';

export interface Row {
  /** Where the row goes in the table (the order); rows are added as steps finish. */
  rank: number;
  measure: string;
  service: string;
  comparator: string;
  /** service ÷ comparator (or the row's own ratio); undefined: informative only. */
  ratio?: number;
  target: string;
  /** undefined: nothing to judge (informative, or not measured). */
  ok?: boolean;
}

export class Report {
  readonly rows: Row[] = [];
  private readonly started = performance.now();

  add(row: Row): void {
    // A ratio that is not a number (a comparator that measured nothing) judges nothing.
    this.rows.push(row.ratio !== undefined && !Number.isFinite(row.ratio) ? { ...row, ok: undefined } : row);
  }

  /** A progress line, with the time since the start. */
  progress(text: string): void {
    console.log(`[${seconds(performance.now() - this.started)}] ${text}`);
  }

  async step<T>(title: string, work: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    this.progress(`${title}…`);
    const result = await work();
    this.progress(`${title}: done in ${seconds(performance.now() - t0)}`);
    return result;
  }

  get elapsed(): string {
    return seconds(performance.now() - this.started);
  }

  table(): string {
    const header = ['measure', 'service', 'comparator', 'ratio', 'target', 'ok?'];
    const lines = [...this.rows]
      .sort((a, b) => a.rank - b.rank)
      .map((row) => [
        row.measure,
        row.service,
        row.comparator,
        row.ratio === undefined || !Number.isFinite(row.ratio) ? '' : row.ratio.toFixed(2),
        row.target,
        row.ok === undefined ? '' : row.ok ? 'yes' : 'NO',
      ]);
    const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i].length)));
    const format = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`;
    return [format(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...lines.map(format)].join('\n');
  }
}

export function seconds(ms: number): string {
  if (ms >= 60_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** A figure with a sensible number of digits. */
export function fmt(value: number, unit = ''): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  const text = abs >= 100 ? value.toFixed(0) : abs >= 10 ? value.toFixed(1) : abs >= 1 ? value.toFixed(2) : value.toFixed(3);
  return unit ? `${text} ${unit}` : text;
}
