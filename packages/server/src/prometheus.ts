/**
 * A minimal Prometheus text exposition (format 0.0.4): counters, gauges and histograms with
 * labels. Written here rather than taken from prom-client because the server needs only these
 * three types, per-instance registries (several servers in one process must not share a global
 * registry) and gauges read from the backend at scrape time.
 */

type Labels = Record<string, string>;

const escapeLabel = (value: string) =>
  value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",")}}`;
}

const keyOf = (labels: Labels) =>
  JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

interface Metric {
  render(): string[];
}

abstract class Base implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram",
  ) {}
  protected header(): string[] {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
  }
  abstract render(): string[];
}

/** A monotonically increasing count per label set. */
export class Counter extends Base {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }
  inc(labels: Labels = {}, by = 1): void {
    const key = keyOf(labels);
    const entry = this.values.get(key);
    if (entry) entry.value += by;
    else this.values.set(key, { labels, value: by });
  }
  render(): string[] {
    return [
      ...this.header(),
      ...[...this.values.values()].map((e) => `${this.name}${labelText(e.labels)} ${formatNumber(e.value)}`),
    ];
  }
}

/** A value per label set, replaced at every scrape. */
export class Gauge extends Base {
  private values: { labels: Labels; value: number }[] = [];
  constructor(name: string, help: string) {
    super(name, help, "gauge");
  }
  /** Replaces every sample. */
  reset(): void {
    this.values = [];
  }
  set(labels: Labels, value: number): void {
    this.values.push({ labels, value });
  }
  render(): string[] {
    return [
      ...this.header(),
      ...this.values.map((e) => `${this.name}${labelText(e.labels)} ${formatNumber(e.value)}`),
    ];
  }
}

/** A cumulative histogram per label set. */
export class Histogram extends Base {
  private readonly values = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();
  constructor(
    name: string,
    help: string,
    readonly buckets: readonly number[],
  ) {
    super(name, help, "histogram");
  }
  observe(labels: Labels, value: number): void {
    const key = keyOf(labels);
    let entry = this.values.get(key);
    if (!entry) {
      entry = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.values.set(key, entry);
    }
    for (let i = 0; i < this.buckets.length; i += 1) if (value <= this.buckets[i]!) entry.counts[i]! += 1;
    entry.sum += value;
    entry.count += 1;
  }
  render(): string[] {
    const lines = this.header();
    for (const entry of this.values.values()) {
      this.buckets.forEach((bound, i) => {
        lines.push(
          `${this.name}_bucket${labelText({ ...entry.labels, le: formatNumber(bound) })} ${entry.counts[i]}`,
        );
      });
      lines.push(`${this.name}_bucket${labelText({ ...entry.labels, le: "+Inf" })} ${entry.count}`);
      lines.push(`${this.name}_sum${labelText(entry.labels)} ${formatNumber(entry.sum)}`);
      lines.push(`${this.name}_count${labelText(entry.labels)} ${entry.count}`);
    }
    return lines;
  }
}

/** A set of metrics rendered together. */
export class Registry {
  private readonly metrics: Metric[] = [];
  add<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }
  render(): string {
    return `${this.metrics.flatMap((m) => m.render()).join("\n")}\n`;
  }
}

/** The content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
