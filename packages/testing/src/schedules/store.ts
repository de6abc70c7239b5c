import { describe, expect, it } from "vitest";
import type { ScheduleSuite } from "./kit.js";

/** Upsert, get, list, due and remove on the store alone. */
export function storeTests(suite: ScheduleSuite): void {
  describe("schedule store", () => {
    it("upsert creates, keeps the next run for the same definition, and resets it for a changed one", async () => {
      const store = await suite.store(suite.prefix());
      const created = await store.upsert(suite.entry({ name: "a", everyMs: 1_000 }, 5_000));
      expect(created.status).toBe("created");
      expect(created.schedule).toMatchObject({ name: "a", everyMs: 1_000, missed: "skip", nextRunAt: 5_000 });
      const again = await store.upsert(suite.entry({ name: "a", everyMs: 1_000 }, 9_000));
      expect(again.status).toBe("unchanged");
      expect(again.schedule.nextRunAt).toBe(5_000);
      const changed = await store.upsert(suite.entry({ name: "a", everyMs: 2_000 }, 8_000));
      expect(changed.status).toBe("updated");
      expect(changed.schedule).toMatchObject({ everyMs: 2_000, nextRunAt: 8_000 });
      expect(changed.schedule.createdAt).toBe(created.schedule.createdAt);
    });

    it("stores every field of the definition as given", async () => {
      const store = await suite.store(suite.prefix());
      const entry = suite.entry(
        {
          name: "full",
          queue: "reports",
          input: { kind: "daily", list: [1, "two", null], nested: { deep: true } },
          cron: "0 9 * * 1-5",
          timezone: "America/New_York",
          missed: "catchUp",
          jobOptions: {
            priority: 5,
            retries: 2,
            backoff: { type: "fixed", delayMs: 100 },
            timeoutMs: 1_000,
            meta: { team: "ops" },
          },
        },
        1_234,
      );
      await store.upsert(entry);
      const found = await store.get("full");
      expect(found).toMatchObject({ ...entry.schedule, fingerprint: entry.fingerprint, nextRunAt: 1_234 });
      expect(found?.lastRunAt).toBeUndefined();
      expect(await store.get("missing")).toBeUndefined();
    });

    it("lists by name, answers due schedules earliest first up to the limit, and removes", async () => {
      const store = await suite.store(suite.prefix());
      await store.upsert(suite.entry({ name: "c" }, 300));
      await store.upsert(suite.entry({ name: "a" }, 200));
      await store.upsert(suite.entry({ name: "b" }, 100));
      await store.upsert(suite.entry({ name: "later" }, 10_000));
      expect((await store.list()).map((s) => s.name)).toEqual(["a", "b", "c", "later"]);
      expect((await store.due(300, 10)).map((s) => s.name)).toEqual(["b", "a", "c"]);
      expect((await store.due(300, 2)).map((s) => s.name)).toEqual(["b", "a"]);
      expect(await store.due(99, 10)).toEqual([]);
      expect(await store.remove("a")).toBe(true);
      expect(await store.remove("a")).toBe(false);
      expect((await store.due(300, 10)).map((s) => s.name)).toEqual(["b", "c"]);
      expect((await store.list()).map((s) => s.name)).toEqual(["b", "c", "later"]);
    });

    it("is shared by two adapters of one backend, and kept apart from another prefix", async () => {
      const prefix = suite.prefix();
      const one = await suite.store(prefix);
      const two = await suite.store(prefix);
      const other = await suite.store(suite.prefix());
      await one.upsert(suite.entry({ name: "shared" }, 500));
      expect((await two.get("shared"))?.nextRunAt).toBe(500);
      expect(await other.list()).toEqual([]);
      expect((await two.upsert(suite.entry({ name: "shared" }, 900))).status).toBe("unchanged");
    });

    it("concurrent upserts of one definition create it once", async () => {
      const prefix = suite.prefix();
      const stores = [await suite.store(prefix), await suite.store(prefix)];
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => stores[i % 2]!.upsert(suite.entry({ name: "race" }, 700))),
      );
      expect(results.filter((r) => r.status === "created")).toHaveLength(1);
      expect(results.filter((r) => r.status === "unchanged")).toHaveLength(9);
    });
  });
}
