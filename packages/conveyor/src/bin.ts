#!/usr/bin/env node
import { runCli } from "@conveyor/cli";
import { registerEmbeddedAdapters } from "./register.js";

registerEmbeddedAdapters();
const code = await runCli(process.argv.slice(2));
process.exitCode = code;
// Let stdout drain and the event loop end by itself; a backend that keeps a handle open
// (a socket, a timer) must not keep the command alive after its work is done.
setTimeout(() => process.exit(code), 2_000).unref();
