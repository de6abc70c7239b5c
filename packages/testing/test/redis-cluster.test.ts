import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RedisClusterHandle, startRedisCluster } from "../src/index.js";

const run = promisify(execFile);
const cli = async (port: number, ...args: string[]) =>
  (await run("redis-cli", ["-p", String(port), ...args])).stdout.trim();

describe("startRedisCluster", () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("forms a 3-master cluster that covers every slot, named by a ?cluster=true URL", async () => {
    expect(cluster.nodes).toHaveLength(3);
    const [first, second, third] = cluster.nodes;
    expect(cluster.url).toBe(
      `redis://127.0.0.1:${first!.port}?cluster=true&nodes=127.0.0.1:${second!.port},127.0.0.1:${third!.port}`,
    );
    for (const node of cluster.nodes) {
      const info = await cli(node.port, "CLUSTER", "INFO");
      expect(info).toContain("cluster_state:ok");
      expect(info).toContain("cluster_slots_assigned:16384");
      expect(info).toContain("cluster_size:3");
    }
    // Each key lives on one node; a client that follows MOVED reaches it from any node.
    await cli(first!.port, "-c", "SET", "{a}k", "1");
    for (const node of cluster.nodes) expect(await cli(node.port, "-c", "GET", "{a}k")).toBe("1");
  });

  it("stop() ends every node", async () => {
    const other = await startRedisCluster();
    await other.stop();
    for (const node of other.nodes) expect(node.running).toBe(false);
    await other.stop();
  });

  it("refuses fewer than 3 masters with a clear error", async () => {
    await expect(startRedisCluster({ masters: 2 })).rejects.toThrow(/at least 3 masters/);
  });
});
