#!/usr/bin/env node
// Writes a deterministic orders CSV: `node samples/generate.mjs [rows] [file]`
// (defaults: 5,000 rows to samples/orders.csv, the sample the guide and the example use).
// Streams through a write stream, so 10,000,000 rows take constant memory.
import { createWriteStream } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const rows = Number(process.argv[2] ?? 5_000);
const file = process.argv[3] ?? join(dirname(fileURLToPath(import.meta.url)), "orders.csv");
const PRODUCTS = [
  "Widget",
  "Gadget",
  "Sprocket",
  "Gizmo",
  "Doohickey",
  "Thingamajig",
  "Whatsit",
  "Contraption",
];
const COUNTRIES = ["ES", "FR", "DE", "GB", "US", "MX", "BR", "JP", "IN", "NG"];

// mulberry32: a small seeded PRNG, so every run writes the same file.
let seed = 42;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(random() * list.length)];

const out = createWriteStream(file);
const write = (text) => (out.write(text) ? undefined : new Promise((resolve) => out.once("drain", resolve)));
await write("order_id,customer_id,product,quantity,unit_price,country,ordered_at\n");
const start = Date.UTC(2024, 0, 1);
let chunk = "";
for (let i = 1; i <= rows; i++) {
  const orderedAt = new Date(start + Math.floor(random() * 365 * 86_400_000)).toISOString();
  chunk += `${1_000_000_000_000 + i},${1 + Math.floor(random() * 50_000)},"${pick(PRODUCTS)}",${1 + Math.floor(random() * 9)},${(1 + random() * 199).toFixed(2)},${pick(COUNTRIES)},${orderedAt}\n`;
  if (chunk.length > 1 << 16) {
    await write(chunk);
    chunk = "";
  }
}
await write(chunk);
out.end();
await new Promise((resolve) => out.on("finish", resolve));
console.error(`wrote ${rows.toLocaleString("en-US")} rows to ${file}`);
