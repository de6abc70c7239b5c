import { fileURLToPath } from "node:url";
import { apertium, translation } from "@conveyor/plugin-translation";
import { defineConfig } from "conveyor";

// Jobs may read and write under this folder (the samples and out/), nowhere else.
const here = fileURLToPath(new URL(".", import.meta.url));

// No URL: the embedded default, memory://. Set CONVEYOR_URL (or pass --url) for a shared backend,
// and a cache URL (--cache-url disk://./.conveyor) to keep translations between runs.
export default defineConfig({
  plugins: [translation({ engines: [apertium()], roots: [here] })],
  worker: { concurrency: 2 },
});
