import { fileURLToPath } from "node:url";
import { pocketsphinx, stt } from "@conveyor/plugin-stt";
import { defineConfig } from "conveyor";

// Jobs may read audio and write transcripts under this folder only.
const here = fileURLToPath(new URL(".", import.meta.url));

// No URL: the embedded default, memory://. Set CONVEYOR_URL (or pass --url) for a shared backend.
export default defineConfig({
  plugins: [stt({ engine: pocketsphinx(), roots: [here] })],
  worker: { concurrency: 2 },
});
