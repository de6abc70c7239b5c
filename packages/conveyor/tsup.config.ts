import { packageConfig } from "../../tsup.base";

// The library builds like every package; the bin is a second, ESM-only entry whose output
// keeps the `#!/usr/bin/env node` line of src/bin.ts. Only the first build cleans dist, and it
// spares the bin so the two parallel builds never delete each other's files.
export default [
  packageConfig({ clean: ["!bin.js", "!bin.js.map"] }),
  packageConfig({ entry: { bin: "src/bin.ts" }, format: ["esm"], dts: false, clean: false }),
];
