import { type JobEvent, type NewJob, silentLogger } from "@conveyor/core";
import { createRedisQueue } from "@conveyor/redis";
import { type RedisServerHandle, randomPrefix, startRedisServer, waitFor } from "@conveyor/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

function job(id: string, queue: string): NewJob {
  const now = Date.now();
  return {
    id,
    queue,
    task: "events.echo",
    input: { id },
    priority: 0,
    runAt: now,
    createdAt: now,
    maxAttempts: 1,
  };
}

describe("the queue's event stream", () => {
  let redis: RedisServerHandle;
  let raw: Redis;
  beforeAll(async () => {
    redis = await startRedisServer();
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    raw?.disconnect();
    await redis?.stop();
  });

  it("is written only while some adapter of the prefix subscribes, whichever adapter writes", async () => {
    const prefix = randomPrefix();
    const stream = `{${prefix}}:events`;
    const producer = createRedisQueue({ url: redis.url, prefix, log: silentLogger });
    const watcher = createRedisQueue({ url: redis.url, prefix, log: silentLogger });
    try {
      await producer.add([job("unwatched", "q")]);
      expect(await raw.xlen(stream)).toBe(0);

      // Another adapter (as another process would) subscribes: the producer's writes now land.
      const seen: JobEvent[] = [];
      const unsubscribe = await watcher.subscribe((event) => seen.push(event), { queue: "q" });
      await producer.add([job("watched", "q")]);
      await waitFor(() => seen.length > 0, { message: "the added event" });
      expect(seen.map((e) => [e.type, e.jobId])).toEqual([["added", "watched"]]);

      await unsubscribe();
      const length = await raw.xlen(stream);
      await producer.add([job("after", "q")]);
      expect(await raw.xlen(stream)).toBe(length);
    } finally {
      await watcher.close();
      await producer.close();
    }
  });

  it("a subscriber that closed without unsubscribing stops the writes too", async () => {
    const prefix = randomPrefix();
    const stream = `{${prefix}}:events`;
    const producer = createRedisQueue({ url: redis.url, prefix, log: silentLogger });
    const watcher = createRedisQueue({ url: redis.url, prefix, log: silentLogger });
    try {
      await watcher.subscribe(() => {});
      await producer.add([job("watched", "q")]);
      expect(await raw.xlen(stream)).toBe(1);
      await watcher.close();
      await producer.add([job("after", "q")]);
      expect(await raw.xlen(stream)).toBe(1);
    } finally {
      await producer.close();
    }
  });
});
