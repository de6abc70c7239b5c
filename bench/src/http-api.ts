/**
 * The HTTP API's cost per submitted job, side by side in one process and one run, rounds
 * interleaved: `POST /v1/tasks/{name}` (one job per request, keep-alive connections) against a
 * bare `node:http` server that reads the same JSON body and answers 202 (the floor of any HTTP
 * API on this machine) and against `conveyor.enqueue` in-process; `POST /v1/tasks/{name}/bulk`
 * against `conveyor.enqueueMany`. memory://, no worker: only the submit path is measured.
 *
 *   pnpm build && pnpm --filter @conveyor/bench bench:http
 *   pnpm --filter @conveyor/bench bench:http -- --jobs 5000 --rounds 3 --concurrency 16
 */
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { createConveyor, defineTask, registerAdapter } from "@conveyor/core";
import { startServer } from "@conveyor/server";
import { formatRate, markdownTable, median } from "./stats.js";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "5000" },
    rounds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "16" },
    chunk: { type: "string", default: "100" },
  },
});
const JOBS = Number(values.jobs);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const CHUNK = Number(values.chunk);

registerAdapter("memory", { packageName: "@conveyor/memory", load: () => import("@conveyor/memory") });
const noop = defineTask({ name: "bench.noop", run: () => undefined });
// Finished jobs are not kept long: each round adds JOBS more.
const conveyor = await createConveyor({ url: "memory://", tasks: [noop], logger: false, env: false });
const server = await startServer({ conveyor, port: 0, env: {}, metrics: false });
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
// The reference: parse the JSON body, answer a small JSON 202. No routing, no validation, no queue.
const bare = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const text = JSON.stringify({ id: String(input.input.i), state: "waiting" });
    res.writeHead(202, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  });
});
await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;

function post(path: string, body: string, base = server.url): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, {
      method: "POST",
      agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Runs `count` calls of `one`, `CONCURRENCY` at a time; returns calls per second. */
async function drive(count: number, one: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await one(next++);
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

const scenarios: Record<string, () => Promise<number>> = {
  "enqueue (in-process)": () => drive(JOBS, (i) => conveyor.enqueue(noop, { i })),
  "bare node:http, JSON in, 202 out": () =>
    drive(JOBS, async (i) => {
      const status = await post("/", JSON.stringify({ input: { i } }), bareUrl);
      if (status !== 202) throw new Error(`bare server answered ${status}`);
    }),
  "POST /v1/tasks/{name}": () =>
    drive(JOBS, async (i) => {
      const status = await post("/v1/tasks/bench.noop", JSON.stringify({ input: { i } }));
      if (status !== 202) throw new Error(`submit answered ${status}`);
    }),
  [`enqueueMany ×${CHUNK} (in-process)`]: async () =>
    CHUNK *
    (await drive(JOBS / CHUNK, (i) =>
      conveyor.enqueueMany(
        noop,
        Array.from({ length: CHUNK }, (_, j) => ({ input: { i: i * CHUNK + j } })),
      ),
    )),
  [`POST …/bulk ×${CHUNK}`]: async () =>
    CHUNK *
    (await drive(JOBS / CHUNK, async (i) => {
      const items = Array.from({ length: CHUNK }, (_, j) => ({ input: { i: i * CHUNK + j } }));
      const status = await post("/v1/tasks/bench.noop/bulk", JSON.stringify({ items }));
      if (status !== 202) throw new Error(`bulk submit answered ${status}`);
    })),
};

const rates = new Map<string, number[]>(Object.keys(scenarios).map((name) => [name, []]));
for (const run of Object.values(scenarios)) await run(); // warm-up
for (let round = 0; round < ROUNDS; round += 1) {
  for (const [name, run] of Object.entries(scenarios)) {
    rates.get(name)!.push(await run());
    await conveyor.purge("default", {});
  }
}

const floor = median(rates.get("bare node:http, JSON in, 202 out")!);
const rows = [...rates].map(([name, values]) => {
  const rate = median(values);
  return [name, formatRate(rate), `${(rate / floor).toFixed(2)}×`];
});
console.log(
  `HTTP API submit, memory://, ${JOBS} jobs per round, median of ${ROUNDS} rounds, concurrency ${CONCURRENCY}, Node ${process.version}\n`,
);
console.log(
  markdownTable(["scenario", "jobs/s", "vs bare node:http"], rows, ["left", "right", "right"]).join("\n"),
);
agent.destroy();
bare.close();
await server.close();
await conveyor.close();
