import { defineConfig, type Options } from "tsup";

/** The one build every package uses: ESM + CJS, types per format, Node 20 target. */
export function packageConfig(overrides: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    shims: true,
    splitting: false,
    treeshake: true,
    ...overrides,
  });
}
