import { defineConfig } from "conveyor";
import { files } from "./src/word-count.js";

// No URL: the embedded default, memory://. Set CONVEYOR_URL (or pass --url) for a shared backend.
export default defineConfig({
  plugins: [files],
  worker: { concurrency: 2 },
});
