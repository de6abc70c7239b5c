import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { ConveyorError } from "@conveyor/core";
import { type RedisServerHandle, type RedisServerOptions, startRedisServer } from "./redis-server.js";

const run = promisify(execFile);

/** How an ephemeral Redis Cluster is started by {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /**
   * How many master nodes, each its own `redis-server` process owning a share of the 16,384 slots.
   * A Redis Cluster needs at least 3.
   * @defaultValue 3
   */
  masters?: number;
  /**
   * Options of every node's `redis-server` (its `args` come before the cluster's own).
   * @defaultValue `{}`
   */
  server?: Omit<RedisServerOptions, "port">;
  /**
   * The `redis-cli` executable that creates the cluster (`--cluster create`).
   * @defaultValue `process.env.REDIS_CLI_BIN` or `"redis-cli"`
   */
  cli?: string;
  /**
   * How long to wait for every node to report `cluster_state:ok`.
   * @defaultValue `20_000`
   */
  readyTimeoutMs?: number;
}

/** A running ephemeral Redis Cluster owned by the caller. */
export interface RedisClusterHandle {
  /**
   * `redis://<first node>?cluster=true&nodes=<the others>`: the URL form the Conveyor Redis
   * adapters take for a Cluster.
   */
  readonly url: string;
  /** The master nodes, in slot order (the first owns slot 0). */
  readonly nodes: readonly RedisServerHandle[];
  /** Stops every node and removes their data. Safe to call twice. */
  stop(): Promise<void>;
}

const delay = (ms: number) => new Promise((resolveDelay) => setTimeout(resolveDelay, ms));

/**
 * Starts a local Redis Cluster of `masters` ephemeral `redis-server` processes
 * (`--cluster-enabled yes`, each on a free port with its own data folder), joins them with
 * `redis-cli --cluster create … --cluster-yes`, and resolves once every node reports
 * `cluster_state:ok`. Always `stop()` it.
 *
 * @throws {@link RedisServerNotFoundError} when `redis-server` is not installed.
 * @throws `ConveyorError` (code `REDIS_CLUSTER_START_FAILED`) when the cluster cannot be formed.
 *
 * @example
 * ```ts
 * import { startRedisCluster } from "@conveyor/testing";
 * const cluster = await startRedisCluster();
 * try {
 *   console.log(cluster.url); // redis://127.0.0.1:<port>?cluster=true&nodes=127.0.0.1:<port>,…
 * } finally {
 *   await cluster.stop();
 * }
 * ```
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const cli = options.cli ?? process.env.REDIS_CLI_BIN ?? "redis-cli";
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const server = options.server ?? {};
  if (!Number.isInteger(masters) || masters < 3) {
    throw new ConveyorError(
      "CONFIG",
      `a Redis Cluster needs at least 3 masters, not ${masters}. Pass masters: 3 or more.`,
      {
        scope: "testing",
      },
    );
  }
  const nodes: RedisServerHandle[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startRedisServer({
          ...server,
          args: [
            ...(server.args ?? []),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            // Fails a node over quickly in tests that stop one; the default is 15 s.
            "--cluster-node-timeout",
            "2000",
          ],
        }),
      );
    }
    // redis-cli splits host and port at the last colon: no brackets here.
    const addresses = nodes.map((node) => `${node.host}:${node.port}`);
    try {
      await run(cli, ["--cluster", "create", ...addresses, "--cluster-replicas", "0", "--cluster-yes"], {
        timeout: readyTimeoutMs,
      });
    } catch (cause) {
      const output = cause as { stdout?: string; stderr?: string; code?: string };
      const hint =
        output.code === "ENOENT"
          ? `"${cli}" was not found on PATH; it comes with redis-server (Debian/Ubuntu: \`apt-get install redis-tools\`).`
          : `${output.stderr ?? ""}${output.stdout ?? ""}`.trim().slice(-2_000);
      throw new ConveyorError("REDIS_CLUSTER_START_FAILED", `redis-cli --cluster create failed: ${hint}`, {
        scope: "testing",
        cause,
      });
    }
    const deadline = Date.now() + readyTimeoutMs;
    for (const node of nodes) {
      for (;;) {
        const info = await run(cli, ["-h", node.host, "-p", String(node.port), "CLUSTER", "INFO"]).then(
          (out) => out.stdout,
          () => "",
        );
        if (info.includes("cluster_state:ok") && info.includes(`cluster_known_nodes:${masters}`)) break;
        if (Date.now() > deadline) {
          throw new ConveyorError(
            "REDIS_CLUSTER_START_FAILED",
            `the Redis Cluster node on port ${node.port} did not report cluster_state:ok within ${readyTimeoutMs} ms. Its CLUSTER INFO:\n${info}`,
            { scope: "testing" },
          );
        }
        await delay(50);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const [first, ...others] = nodes;
  const address = (node: RedisServerHandle) => `${bracketed(node.host)}:${node.port}`;
  const url = `redis://${bracketed(first!.host)}:${first!.port}?cluster=true&nodes=${others.map(address).join(",")}`;
  let stopped: Promise<void> | undefined;
  return {
    url,
    nodes,
    stop: () => {
      stopped ??= stop();
      return stopped;
    },
  };
}

/** URLs, and the nodes= list in them, take IPv6 addresses in brackets. */
function bracketed(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
