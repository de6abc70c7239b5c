import { randomUUID } from "node:crypto";
import { type Conveyor, createConveyor } from "@conveyor/core";
import { afterAll, beforeAll } from "vitest";
import { registerMemoryAdapter } from "../../src/index.js";
import config from "../fixtures/basic/conveyor.config.js";
import { ensureBuilt } from "./build.js";

/** A named memory store that the test file's own platform holds open. */
export interface HeldStore {
  /** The store's URL (`memory://<name>-<random>`), to pass to the CLI with `--url`. */
  url: string;
  /** The test's platform on the store, with the fixture's tasks; set once `beforeAll` has run. */
  readonly conveyor: Conveyor;
}

/**
 * Opens a platform on a named memory store for the whole test file (in `beforeAll`, closed in
 * `afterAll`). A named memory store lives while someone holds it, so the jobs and schedules each
 * CLI run writes stay visible to the test and to the next run after that run closes its own
 * platform, as they would on a shared backend.
 */
export function holdStore(name: string): HeldStore {
  const url = `memory://${name}-${randomUUID().slice(0, 8)}`;
  let conveyor: Conveyor | undefined;
  beforeAll(async () => {
    ensureBuilt([{ dir: "packages/core" }]);
    registerMemoryAdapter();
    conveyor = await createConveyor({ ...config, url, env: false, logger: false });
  }, 180_000);
  afterAll(() => conveyor?.close());
  return {
    url,
    get conveyor() {
      if (!conveyor) throw new Error(`the platform on ${url} is not open yet: use it inside a test`);
      return conveyor;
    },
  };
}
