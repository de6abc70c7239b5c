import { type Conveyor, createConveyor, createJobHandler, defineTask } from "@conveyor/core";
import { createMemoryCache, createMemoryQueue, createMemoryRateLimiter } from "@conveyor/memory";
import { afterEach, describe, expect, it } from "vitest";

// ctx.conveyor: a handler enqueues child jobs on the platform its worker runs on and awaits them.

const square = defineTask({ name: "children.square", run: (input: { n: number }) => input.n * input.n });
const sumOfSquares = defineTask({
  name: "children.sumOfSquares",
  async run(input: { upTo: number }, ctx) {
    const children = await ctx.conveyor.enqueueMany(
      square,
      Array.from({ length: input.upTo }, (_, i) => ({
        input: { n: i + 1 },
        options: { jobId: `${ctx.jobId}:${ctx.attempt}:${i + 1}` },
      })),
    );
    const squares = await Promise.all(children.map((child) => child.result({ signal: ctx.signal })));
    return { sum: squares.reduce((a, b) => a + b, 0), children: children.map((child) => child.id) };
  },
});

const platforms: Conveyor[] = [];
afterEach(async () => {
  await Promise.all(platforms.splice(0).map((platform) => platform.close()));
});

describe("child jobs through ctx.conveyor", () => {
  it("a parent enqueues children on its own platform, any free slot runs them, and the parent sums their results", async () => {
    const conveyor = await createConveyor({
      queue: createMemoryQueue(),
      cache: createMemoryCache(),
      rateLimiter: createMemoryRateLimiter(),
      tasks: [square, sumOfSquares],
      logger: false,
      env: false,
    });
    platforms.push(conveyor);
    conveyor.worker({ concurrency: 4 });
    const parent = await conveyor.enqueue(sumOfSquares, { upTo: 5 });
    const result = await parent.result({ timeoutMs: 20_000 });
    expect(result.sum).toBe(1 + 4 + 9 + 16 + 25);
    expect(result.children).toEqual([1, 2, 3, 4, 5].map((n) => `${parent.id}:1:${n}`));
    for (const id of result.children) expect(await conveyor.job(id).status()).toBe("completed");
  });

  it("a handler made without a platform fails a task that reads ctx.conveyor with a ConfigError", async () => {
    const handler = createJobHandler({
      tasks: new Map([[sumOfSquares.name, sumOfSquares]]),
      cache: createMemoryCache(),
      rateLimiter: createMemoryRateLimiter(),
      resources: {
        get: () => Promise.reject(new Error("no resources here")),
        dispose: async () => {},
      } as never,
      log: { debug() {}, info() {}, warn() {}, error() {} },
      resultTtlMs: 60_000,
      failedTtlMs: undefined,
    });
    const now = Date.now();
    const controller = new AbortController();
    const outcome = await handler({
      record: {
        id: "p1",
        queue: "default",
        task: sumOfSquares.name,
        input: { upTo: 1 },
        state: "active",
        priority: 0,
        attempt: 1,
        maxAttempts: 1,
        runAt: now,
        createdAt: now,
      } as never,
      signal: controller.signal,
      onAbort() {},
      progress: async () => {},
    });
    expect(outcome.type).toBe("failed");
    expect(outcome).toMatchObject({ error: { name: "ConfigError" } });
    expect((outcome as { error: { message: string } }).error.message).toMatch(
      /read ctx\.conveyor, but its handler was made without a platform/,
    );
  });
});
