import { cp } from "node:fs/promises";
import { packageConfig } from "../../tsup.base";

export default packageConfig({
  external: ["bee-queue", "redis"],
  // The Lua scripts are read at run time from `./lua/` next to the module: src/ in tests, dist/
  // once built.
  onSuccess: async () => {
    await cp("src/lua", "dist/lua", { recursive: true });
  },
});
