import { fileURLToPath } from "node:url";
import { dataConversion } from "@conveyor/plugin-data-conversion";
import { defineConfig } from "conveyor";

// Jobs may read and write under this folder and the plugin's bundled samples, nowhere else.
const here = fileURLToPath(new URL(".", import.meta.url));
const samples = fileURLToPath(new URL("../../plugins/data-conversion/samples", import.meta.url));

// No URL: the embedded default, memory://. Set CONVEYOR_URL (or pass --url) for a shared backend.
export default defineConfig({
  plugins: [dataConversion({ roots: [here, samples] })],
  worker: { concurrency: 2 },
});
