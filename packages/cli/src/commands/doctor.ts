import {
  type BackendReport,
  type DiagnosticReport,
  type DiagnosticStatus,
  diagnoseBackends,
  loadConfig,
} from "@conveyor/core";
import type { Command } from "commander";
import type { CommandContext } from "../context.js";
import { resolveCliBackends } from "../context.js";
import { EXIT_CODES } from "../errors.js";
import { wholeNumber } from "../options.js";
import type { ActionFactory } from "./types.js";

interface DoctorFlags {
  timeout?: number;
}

const MARK: Record<DiagnosticStatus, string> = { ok: "ok  ", warn: "warn", fail: "FAIL" };
const KIND: Record<BackendReport["kind"], string> = {
  queue: "queue",
  cache: "cache",
  rateLimiter: "rate limiter",
};

function title(backend: BackendReport, tiers: number): string {
  const tier = backend.tier === undefined ? "" : ` tier ${backend.tier + 1} of ${tiers}`;
  const version = backend.version ? `, ${backend.version}` : "";
  return `${KIND[backend.kind]}${tier}: ${backend.url} (${backend.adapter}${version})`;
}

/** The human-readable report: each backend with its checks, then the verdict and what to fix. */
export function renderDoctorReport(report: DiagnosticReport): string {
  const tiers = report.backends.filter((b) => b.kind === "cache").length;
  const lines: string[] = [];
  for (const backend of report.backends) {
    lines.push(`[${MARK[backend.status].trim()}] ${title(backend, tiers)}`);
    for (const check of backend.checks) {
      lines.push(`  ${MARK[check.status]}  ${check.name}: ${check.message}`);
      if (check.fix && check.status !== "ok") lines.push(`        fix: ${check.fix}`);
    }
    lines.push("");
  }
  const problems = report.backends.flatMap((backend) =>
    backend.checks.filter((check) => check.status !== "ok").map((check) => ({ backend, check })),
  );
  const failures = problems.filter((p) => p.check.status === "fail");
  const warnings = problems.filter((p) => p.check.status === "warn");
  if (report.status === "ok") {
    lines.push(`Verdict: all ${report.backends.length} backends work.`);
  } else {
    const counts = [
      failures.length ? `${failures.length} problem${failures.length === 1 ? "" : "s"} to fix` : "",
      warnings.length ? `${warnings.length} warning${warnings.length === 1 ? "" : "s"}` : "",
    ]
      .filter(Boolean)
      .join(", ");
    lines.push(
      report.status === "fail"
        ? `Verdict: NOT READY, ${counts}.`
        : `Verdict: works, with ${counts} worth a look.`,
    );
    for (const { backend, check } of [...failures, ...warnings]) {
      const where = `${KIND[backend.kind]}${backend.tier === undefined ? "" : ` tier ${backend.tier + 1}`} ${backend.url}`;
      lines.push(
        `  - ${check.status === "fail" ? "fix" : "consider"}: ${where}, ${check.name}: ${check.fix ?? check.message}`,
      );
    }
  }
  return lines.join("\n");
}

async function doctor(ctx: CommandContext, flags: DoctorFlags): Promise<number> {
  const file = await loadConfig({
    cwd: ctx.cwd,
    ...(ctx.globals.config ? { file: ctx.globals.config } : {}),
  });
  const backends = resolveCliBackends(file, ctx.globals, ctx.env);
  const report = await diagnoseBackends(backends, {
    roots: file.roots ?? [ctx.cwd],
    ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
  });
  if (ctx.out.flags.json) ctx.out.json(report);
  else ctx.out.line(renderDoctorReport(report));
  return report.status === "fail" ? EXIT_CODES.backend : EXIT_CODES.ok;
}

/** `conveyor doctor`. */
export function registerDoctor(program: Command, action: ActionFactory): void {
  program
    .command("doctor")
    .description(
      "check every configured backend (queue, each cache tier, rate limiter): reachable, version, persistence, eviction policy, a write/read round trip and its latency; exits 3 when something fails",
    )
    .option(
      "--timeout <ms>",
      "longest wait for each step on each backend (default 5000)",
      wholeNumber("a number of milliseconds", 1),
    )
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  $ conveyor doctor",
        '  $ conveyor doctor --cache-url "memory://?max=10000,redis://localhost:6379,disk://./.conveyor" --json',
      ].join("\n"),
    )
    .action(action<DoctorFlags>((ctx, flags) => doctor(ctx, flags)));
}
