import { constants, existsSync, statSync } from "node:fs";
import { access, statfs } from "node:fs/promises";
import { dirname } from "node:path";
import type { DiagnoseContext, Diagnosis, DiagnosticCheck } from "@conveyor/core";
import Database from "better-sqlite3";
import { resolveLocation, storeFile } from "./location.js";

const MIB = 1024 * 1024;

// statfs(2) magic numbers of network file systems, where SQLite's WAL (shared memory between
// processes) does not work.
const NETWORK_FILE_SYSTEMS = new Map<number, string>([
  [0x6969, "NFS"],
  [0xff534d42, "CIFS"],
  [0xfe534d42, "SMB2"],
  [0x517b, "SMB"],
  [0x65735546, "FUSE"],
  [0x564c, "NCP"],
]);

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The folder itself, or the nearest ancestor that exists (where it would be created). */
function nearestExisting(folder: string): string {
  let current = folder;
  while (!existsSync(current)) {
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return current;
}

/**
 * Checks a disk store for `conveyor doctor`: the folder (exists or can be created, writable, on a
 * local file system, free space), the SQLite version, the store file's journal mode (WAL) and the
 * durability setting. Never throws for a store that cannot be used: that is a failed check.
 *
 * @example
 * ```ts
 * import { parseUrl } from "@conveyor/core";
 * import { diagnoseDisk } from "@conveyor/disk";
 *
 * const url = "disk://./.conveyor";
 * const { checks } = await diagnoseDisk({ url, parsed: parseUrl(url), kind: "queue", timeoutMs: 2_000 });
 * for (const check of checks) console.log(check.status, check.name, check.message);
 * ```
 */
export async function diagnoseDisk(context: DiagnoseContext): Promise<Diagnosis> {
  const { kind } = context;
  const checks: DiagnosticCheck[] = [];
  let folder: string;
  let params: URLSearchParams;
  try {
    ({ folder, params } = resolveLocation({ url: context.url }, kind === "queue" ? "queue" : "cache"));
  } catch (error) {
    return { checks: [{ name: "url", status: "fail", message: messageOf(error), fix: "Fix the disk URL." }] };
  }
  if (kind === "rateLimiter") {
    return {
      checks: [
        {
          name: "supported",
          status: "fail",
          message: "disk:// provides a queue and a cache, not a rate limiter",
          fix: "Use memory://?persist=./.conveyor/limits.json (kept across restarts) or redis://… for the rate limiter.",
        },
      ],
    };
  }

  const existing = nearestExisting(folder);
  const creates = existing !== folder;
  try {
    if (!statSync(existing).isDirectory()) throw new Error(`${existing} is a file, not a folder`);
    await access(existing, constants.W_OK | constants.R_OK);
    checks.push({
      name: "reachable",
      status: "ok",
      message: creates
        ? `${folder} does not exist yet; it will be created in ${existing}`
        : `${folder} is writable`,
    });
  } catch (error) {
    checks.push({
      name: "reachable",
      status: "fail",
      message: `${creates ? `${folder} cannot be created: ` : ""}${messageOf(error)}`,
      fix: `Point the disk URL at a folder this user can write, or fix the permissions of ${existing}.`,
    });
    return { checks };
  }

  let version: string | undefined;
  try {
    const probe = new Database(":memory:");
    try {
      version = `SQLite ${String(probe.prepare("select sqlite_version()").pluck().get())}`;
    } finally {
      probe.close();
    }
    checks.push({ name: "version", status: "ok", message: `${version} (better-sqlite3)` });
  } catch (error) {
    checks.push({
      name: "version",
      status: "fail",
      message: `better-sqlite3 cannot be loaded: ${messageOf(error)}`,
      fix: "Reinstall @conveyor/disk so better-sqlite3 builds for this Node version (npm rebuild better-sqlite3).",
    });
    return { checks };
  }

  try {
    const fs = await statfs(existing);
    const network = NETWORK_FILE_SYSTEMS.get(Number(fs.type));
    if (network) {
      checks.push({
        name: "file system",
        status: "fail",
        message: `${existing} is on ${network}, where SQLite's WAL mode cannot be shared between processes`,
        fix: "Put the disk store on a local disk.",
      });
    }
    const freeBytes = Number(fs.bavail) * Number(fs.bsize);
    const free = `${Math.round(freeBytes / MIB)} MiB free`;
    if (freeBytes < 100 * MIB) {
      checks.push({ name: "free space", status: "fail", message: free, fix: "Free some disk space." });
    } else if (freeBytes < 1024 * MIB) {
      checks.push({ name: "free space", status: "warn", message: free, fix: "Free some disk space." });
    } else checks.push({ name: "free space", status: "ok", message: free });
  } catch (error) {
    checks.push({ name: "free space", status: "warn", message: `statfs failed: ${messageOf(error)}` });
  }

  const file = storeFile(folder, kind === "queue" ? "queue" : "cache");
  if (existsSync(file)) {
    try {
      const db = new Database(file, { readonly: true, fileMustExist: true, timeout: context.timeoutMs });
      try {
        const mode = String(db.pragma("journal_mode", { simple: true }));
        const sizeMiB = Math.round((statSync(file).size / MIB) * 10) / 10;
        checks.push(
          mode === "wal"
            ? { name: "journal", status: "ok", message: `${file}: WAL mode, ${sizeMiB} MiB` }
            : {
                name: "journal",
                status: "warn",
                message: `${file} is in ${mode} mode, not WAL`,
                fix: "Open it once with Conveyor (it switches the file to WAL), or move the store to a local disk.",
              },
        );
      } finally {
        db.close();
      }
    } catch (error) {
      checks.push({
        name: "journal",
        status: "fail",
        message: `${file} cannot be opened: ${messageOf(error)}`,
        fix: "Check the file's permissions; if it is corrupt, move it away (its data is lost) and let Conveyor create a new one.",
      });
    }
  }

  const durability = params.get("durability") ?? "normal";
  checks.push({
    name: "persistence",
    status: "ok",
    message:
      durability === "full"
        ? "durability full: every commit is fsynced and survives a power cut"
        : "durability normal: a crashed process loses nothing it committed; a power cut may lose the last commits (durability=full prevents that)",
  });
  return { ...(version ? { version } : {}), checks };
}
