import { packageConfig } from "../../tsup.base";

// The sandbox entry is loaded by path in worker threads and child processes (see src/sandbox.ts).
export default packageConfig({ entry: ["src/index.ts", "src/sandbox-child.ts"] });
