import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A folder with three text files, a binary one, and folders the walk must skip. */
export function sampleFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-word-count-"));
  writeFileSync(join(dir, "a.txt"), "hello world\nfoo bar baz\n");
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "sub/b.md"), "one two three");
  writeFileSync(join(dir, "c.ts"), "const value = conveyor;\n");
  writeFileSync(join(dir, "image.bin"), Buffer.from([0x89, 0x50, 0x00, 0x47]));
  for (const skipped of ["node_modules", "dist", ".git"]) {
    mkdirSync(join(dir, skipped));
    writeFileSync(join(dir, skipped, "ignored.txt"), "these words are never counted\n");
  }
  return dir;
}
