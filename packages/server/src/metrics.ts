import type { CacheStats, Conveyor, JobEvent, JobState, Logger } from "@conveyor/core";
import { Counter, Gauge, Histogram, PROMETHEUS_CONTENT_TYPE, Registry } from "./prometheus.js";

const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
const HTTP_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Start times kept for jobs seen going active; bounded so a flood of jobs cannot grow memory. */
const MAX_TRACKED_STARTS = 50_000;

/**
 * The server's Prometheus metrics. Job counts by state, paused queues, cache counters and worker
 * counts are read from the backends at every scrape, so they are the same whichever server
 * process answers. Throughput, durations, failures and retries are counted from the queue's
 * lifecycle events as this process sees them (adapters with the `events` capability), from the
 * moment it started: Prometheus' `rate()` and `increase()` handle the restarts.
 */
export class ServerMetrics {
  private readonly registry = new Registry();
  private readonly jobs: Gauge;
  private readonly paused: Gauge;
  private readonly events: Record<
    "added" | "completed" | "failed" | "retried" | "cancelled" | "stalled",
    Counter
  >;
  private readonly durations: Histogram;
  private readonly cacheHits: Gauge;
  private readonly cacheMisses: Gauge;
  private readonly cacheEntries: Gauge;
  private readonly workers: Gauge;
  private readonly workerActive: Gauge;
  private readonly rateLimited: Counter;
  private readonly requests: Counter;
  private readonly requestDurations: Histogram;
  private readonly scrapeErrors: Counter;
  private readonly starts = new Map<string, number>();
  private unsubscribe: (() => Promise<void>) | undefined;
  /** Whether throughput counters are fed by events (false on adapters without the capability). */
  readonly eventsSupported: boolean;

  constructor(
    private readonly conveyor: Conveyor,
    private readonly log: Logger,
  ) {
    const r = this.registry;
    this.jobs = r.add(
      new Gauge("conveyor_jobs", "Jobs per queue and state, read from the backend at scrape time."),
    );
    this.paused = r.add(new Gauge("conveyor_queue_paused", "1 when the queue is paused, else 0."));
    this.events = {
      added: r.add(new Counter("conveyor_jobs_added_total", "Jobs added, as seen in queue events.")),
      completed: r.add(new Counter("conveyor_jobs_completed_total", "Jobs completed (throughput).")),
      failed: r.add(new Counter("conveyor_jobs_failed_total", "Jobs failed after their last attempt.")),
      retried: r.add(new Counter("conveyor_jobs_retried_total", "Failed attempts that will be retried.")),
      cancelled: r.add(new Counter("conveyor_jobs_cancelled_total", "Jobs cancelled.")),
      stalled: r.add(
        new Counter("conveyor_jobs_stalled_total", "Jobs recovered after their worker stalled or died."),
      ),
    };
    this.durations = r.add(
      new Histogram(
        "conveyor_job_duration_seconds",
        "Run time of an attempt, from active to completed or failed, for attempts this server saw start.",
        DURATION_BUCKETS_S,
      ),
    );
    this.cacheHits = r.add(
      new Gauge("conveyor_cache_hits", "Cache hits per cache or tier since it was opened."),
    );
    this.cacheMisses = r.add(
      new Gauge("conveyor_cache_misses", "Cache misses per cache or tier since it was opened."),
    );
    this.cacheEntries = r.add(
      new Gauge("conveyor_cache_entries", "Entries held per cache or tier, when known."),
    );
    this.workers = r.add(new Gauge("conveyor_workers", "Workers with a live heartbeat."));
    this.workerActive = r.add(new Gauge("conveyor_worker_active_jobs", "Jobs running now per worker."));
    this.rateLimited = r.add(
      new Counter("conveyor_rate_limit_rejections_total", "API requests refused by a per-token rate limit."),
    );
    this.requests = r.add(new Counter("conveyor_http_requests_total", "HTTP requests answered."));
    this.requestDurations = r.add(
      new Histogram(
        "conveyor_http_request_duration_seconds",
        "Time to answer an HTTP request.",
        HTTP_BUCKETS_S,
      ),
    );
    this.scrapeErrors = r.add(
      new Counter(
        "conveyor_metrics_scrape_errors_total",
        "Backend reads that failed while collecting metrics.",
      ),
    );
    this.eventsSupported = conveyor.queue.capabilities.events;
  }

  /** Subscribes to the queue's lifecycle events (when the adapter has them). */
  async start(): Promise<void> {
    if (!this.eventsSupported || this.unsubscribe) return;
    this.unsubscribe = await this.conveyor.queue.subscribe((event) => this.onEvent(event));
  }

  /** Stops listening. */
  async close(): Promise<void> {
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.();
  }

  private onEvent(event: JobEvent): void {
    const labels = { queue: event.queue };
    switch (event.type) {
      case "added":
        this.events.added.inc(labels);
        break;
      case "active":
        if (this.starts.size >= MAX_TRACKED_STARTS) this.starts.delete(this.starts.keys().next().value!);
        this.starts.set(event.jobId, event.at);
        break;
      case "completed":
        this.events.completed.inc(labels);
        this.observe(event, "completed");
        break;
      case "failed":
        this.events.failed.inc(labels);
        this.observe(event, "failed");
        break;
      case "retrying":
        this.events.retried.inc(labels);
        this.observe(event, "retrying");
        break;
      case "cancelled":
        this.events.cancelled.inc(labels);
        this.starts.delete(event.jobId);
        break;
      case "stalled":
        this.events.stalled.inc(labels);
        this.starts.delete(event.jobId);
        break;
      default:
        break;
    }
  }

  private observe(event: JobEvent, outcome: string): void {
    const started = this.starts.get(event.jobId);
    if (started === undefined) return;
    this.starts.delete(event.jobId);
    this.durations.observe({ queue: event.queue, outcome }, Math.max(0, event.at - started) / 1000);
  }

  /** Counts a request refused by a rate limit. */
  rateLimitRejected(token: string): void {
    this.rateLimited.inc({ scope: "api", token });
  }

  /** Counts one answered request; `route` is the route pattern, never the raw path. */
  request(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.requestDurations.observe({ route }, seconds);
  }

  /** Reads the backends and renders every metric in the Prometheus text format. */
  async render(): Promise<{ contentType: string; text: string }> {
    this.jobs.reset();
    this.paused.reset();
    const failed = (what: string) => (error: unknown) => {
      this.scrapeErrors.inc({ source: what });
      this.log.warn("metrics: a backend read failed", { source: what, error: String(error) });
      return undefined;
    };
    const queues = (await this.conveyor.queues().catch(failed("queue"))) ?? [];
    const counts = await Promise.all(queues.map((q) => this.conveyor.counts(q.name).catch(failed("queue"))));
    queues.forEach((queue, index) => {
      this.paused.set({ queue: queue.name }, queue.paused ? 1 : 0);
      const byState = counts[index];
      if (!byState) return;
      for (const [state, value] of Object.entries(byState) as [JobState, number][]) {
        this.jobs.set({ queue: queue.name, state }, value);
      }
    });

    this.cacheHits.reset();
    this.cacheMisses.reset();
    this.cacheEntries.reset();
    const stats = await this.conveyor.cache.stats().catch(failed("cache"));
    const visit = (s: CacheStats) => {
      this.cacheHits.set({ cache: s.name }, s.hits);
      this.cacheMisses.set({ cache: s.name }, s.misses);
      if (s.size !== undefined) this.cacheEntries.set({ cache: s.name }, s.size);
      for (const tier of s.tiers ?? []) visit(tier);
    };
    if (stats) visit(stats);

    this.workers.reset();
    this.workerActive.reset();
    const workers = await this.conveyor.workers().catch(failed("workers"));
    if (workers) {
      this.workers.set({}, workers.length);
      for (const w of workers) this.workerActive.set({ worker: w.id }, w.active);
    }
    return { contentType: PROMETHEUS_CONTENT_TYPE, text: this.registry.render() };
  }
}
