import { describe, expect, it } from "vitest";
import { createProgressDisplay, renderProgressBar, renderTable } from "../src/index.js";

describe("renderProgressBar", () => {
  it("draws [#####.....] current/total percent message", () => {
    expect(renderProgressBar({ current: 12, total: 40, message: "src/a.ts" })).toBe(
      "[###.......] 12/40 30% src/a.ts",
    );
    expect(renderProgressBar({ current: 0, total: 3 })).toBe("[..........] 0/3 0%");
    expect(renderProgressBar({ current: 3, total: 3 }, { width: 4 })).toBe("[####] 3/3 100%");
  });

  it("keeps the bar inside its brackets when current is past total", () => {
    expect(renderProgressBar({ current: 5, total: 4 })).toBe("[##########] 5/4 100%");
  });

  it("shows only the count and message without a total", () => {
    expect(renderProgressBar({ current: 7, message: "rows" })).toBe("7 rows");
    expect(renderProgressBar({ current: 7, total: 0 })).toBe("7");
  });
});

describe("createProgressDisplay", () => {
  const capture = (isTTY: boolean, columns?: number) => {
    const chunks: string[] = [];
    return {
      chunks,
      stream: { write: (chunk: string) => chunks.push(chunk), isTTY, ...(columns ? { columns } : {}) },
    };
  };

  it("redraws one line with \\r on a terminal and ends it with a newline", () => {
    const { chunks, stream } = capture(true);
    const display = createProgressDisplay(stream, { width: 10 });
    display.update({ current: 1, total: 2, message: "a" });
    display.note("a note");
    display.update({ current: 2, total: 2, message: "b" });
    display.done();
    expect(chunks.join("")).toBe(
      "\r\x1b[K[#####.....] 1/2 50% a" +
        "\r\x1b[Ka note\n" +
        "\r\x1b[K[#####.....] 1/2 50% a" +
        "\r\x1b[K[##########] 2/2 100% b" +
        "\n",
    );
  });

  it("cuts the line to the terminal width", () => {
    const { chunks, stream } = capture(true, 20);
    createProgressDisplay(stream, { width: 10 }).update({ current: 1, total: 2, message: "a long message" });
    expect(chunks[0]).toBe("\r\x1b[K[#####.....] 1/2 5…");
  });

  it("prints plain lines elsewhere, at most one per interval plus the last", () => {
    const { chunks, stream } = capture(false);
    const display = createProgressDisplay(stream, { width: 4, intervalMs: 60_000 });
    display.update({ current: 1, total: 3 });
    display.update({ current: 2, total: 3 });
    display.update({ current: 3, total: 3 });
    display.done();
    expect(chunks).toEqual(["progress [#...] 1/3 33%\n", "progress [####] 3/3 100%\n"]);
  });
});

describe("renderTable", () => {
  it("aligns columns two spaces apart without trailing blanks", () => {
    expect(
      renderTable(
        ["A", "LONGER"],
        [
          ["xyz", "1"],
          ["", "2"],
        ],
      ),
    ).toBe("A    LONGER\nxyz  1\n     2");
  });
});
