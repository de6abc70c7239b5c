import { cp } from "node:fs/promises";
import { packageConfig } from "../../tsup.base";

export default packageConfig({
  external: ["ioredis", "keyv", "@keyv/redis"],
  // The Lua scripts are read at run time from `./commands/` next to the module: src/ in tests,
  // dist/ once built.
  onSuccess: async () => {
    await cp("src/commands", "dist/commands", { recursive: true });
    await cp("src/queue/lua", "dist/queue/lua", { recursive: true });
    await cp("src/schedules/lua", "dist/schedules/lua", { recursive: true });
  },
});
