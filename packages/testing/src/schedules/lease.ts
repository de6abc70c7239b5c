import { describe, expect, it } from "vitest";
import type { ScheduleSuite } from "./kit.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The leader lease with its fencing token, and the advance it guards. */
export function leaseTests(suite: ScheduleSuite): void {
  describe("leader lease", () => {
    it("one owner holds it; the same owner extends it and keeps its token", async () => {
      const prefix = suite.prefix();
      const one = await suite.store(prefix);
      const two = await suite.store(prefix);
      const a = await one.acquireLease("a", suite.ms(10_000));
      expect(a?.owner).toBe("a");
      expect(await two.acquireLease("b", suite.ms(10_000))).toBeUndefined();
      expect(await one.acquireLease("a", suite.ms(10_000))).toEqual(a);
      const info = await two.leader();
      expect(info).toMatchObject({ owner: "a", token: a!.token });
      expect(info!.expiresAt).toBeGreaterThan(Date.now());
    });

    it("an expired lease goes to the next owner with a greater token, and the old one is fenced off", async () => {
      const prefix = suite.prefix();
      const one = await suite.store(prefix);
      const two = await suite.store(prefix);
      await one.upsert(suite.entry({ name: "s" }, 1_000));
      const a = await one.acquireLease("a", suite.ms(150));
      await sleep(suite.ms(250));
      expect(await two.leader()).toBeUndefined();
      const b = await two.acquireLease("b", suite.ms(10_000));
      expect(b!.token).toBeGreaterThan(a!.token);
      expect(await one.renewLease(a!, suite.ms(10_000))).toBe(false);
      expect(await one.advance("s", { lease: a!, expectedNextRunAt: 1_000, nextRunAt: 2_000 })).toBe(false);
      await one.releaseLease(a!);
      expect((await two.leader())?.owner).toBe("b");
      expect(await two.advance("s", { lease: b!, expectedNextRunAt: 1_000, nextRunAt: 2_000 })).toBe(true);
    });

    it("renew extends the lease past its first end; release hands it over at once", async () => {
      const prefix = suite.prefix();
      const one = await suite.store(prefix);
      const two = await suite.store(prefix);
      const a = await one.acquireLease("a", suite.ms(300));
      await sleep(suite.ms(150));
      expect(await one.renewLease(a!, suite.ms(300))).toBe(true);
      await sleep(suite.ms(200));
      expect(await two.acquireLease("b", suite.ms(300))).toBeUndefined();
      await one.releaseLease(a!);
      const b = await two.acquireLease("b", suite.ms(10_000));
      expect(b!.token).toBeGreaterThan(a!.token);
    });

    it("of many owners racing for a free lease exactly one wins", async () => {
      const prefix = suite.prefix();
      const stores = [await suite.store(prefix), await suite.store(prefix)];
      const won = await Promise.all(
        Array.from({ length: 12 }, (_, i) => stores[i % 2]!.acquireLease(`owner-${i}`, suite.ms(10_000))),
      );
      expect(won.filter((lease) => lease !== undefined)).toHaveLength(1);
    });
  });

  describe("advance", () => {
    it("compares the expected next run, then records the tick, its job and clears an old error", async () => {
      const store = await suite.store(suite.prefix());
      await store.upsert(suite.entry({ name: "s" }, 1_000));
      const lease = (await store.acquireLease("a", suite.ms(10_000)))!;
      expect(await store.advance("s", { lease, expectedNextRunAt: 999, nextRunAt: 2_000 })).toBe(false);
      expect(await store.advance("missing", { lease, expectedNextRunAt: 1_000, nextRunAt: 2_000 })).toBe(
        false,
      );
      const failed = {
        lease,
        expectedNextRunAt: 1_000,
        nextRunAt: 2_000,
        lastRunAt: 1_000,
        lastError: "bad input",
      };
      expect(await store.advance("s", failed)).toBe(true);
      expect(await store.get("s")).toMatchObject({
        nextRunAt: 2_000,
        lastRunAt: 1_000,
        lastError: "bad input",
      });
      const fired = {
        lease,
        expectedNextRunAt: 2_000,
        nextRunAt: 3_000,
        lastRunAt: 2_000,
        lastJobId: "job-2",
      };
      expect(await store.advance("s", fired)).toBe(true);
      const after = await store.get("s");
      expect(after).toMatchObject({ nextRunAt: 3_000, lastRunAt: 2_000, lastJobId: "job-2" });
      expect(after?.lastError).toBeUndefined();
      // A skip moves the next run and leaves the last run alone.
      expect(await store.advance("s", { lease, expectedNextRunAt: 3_000, nextRunAt: 9_000 })).toBe(true);
      expect(await store.get("s")).toMatchObject({ nextRunAt: 9_000, lastRunAt: 2_000, lastJobId: "job-2" });
    });

    it("of concurrent advances from one tick exactly one succeeds", async () => {
      const prefix = suite.prefix();
      const stores = [await suite.store(prefix), await suite.store(prefix)];
      await stores[0]!.upsert(suite.entry({ name: "s" }, 1_000));
      const lease = (await stores[0]!.acquireLease("a", suite.ms(10_000)))!;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          stores[i % 2]!.advance("s", { lease, expectedNextRunAt: 1_000, nextRunAt: 2_000 + i }),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });
}
