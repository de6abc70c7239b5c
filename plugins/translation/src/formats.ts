/**
 * Streaming scanners for the files `translation.translateFile` reads. They keep the raw text of
 * every row and only locate the cells to translate, so everything else is written back byte for
 * byte: other columns and fields, quoting, number formats (64-bit ids included), key order,
 * whitespace and line endings.
 */

/** File formats `translation.translateFile` reads and writes. */
export const FILE_FORMATS = ["csv", "tsv", "json", "ndjson"] as const;
/** One of {@link FILE_FORMATS}. */
export type FileFormat = (typeof FILE_FORMATS)[number];

/** The format a file name implies, if any. */
export function fileFormatOf(path: string): FileFormat | undefined {
  const match = /\.([A-Za-z]+)$/.exec(path);
  const ext = match?.[1]?.toLowerCase();
  if (ext === "csv" || ext === "tsv" || ext === "json" || ext === "ndjson") return ext;
  if (ext === "jsonl") return "ndjson";
  return undefined;
}

/** A cell to translate, located in its row's raw text. */
export interface Cell {
  /** The decoded text. */
  value: string;
  /** Span of the raw cell in the row (quotes included). */
  start: number;
  end: number;
  /** Whether the raw cell was quoted (CSV), so a replacement stays quoted. */
  quoted: boolean;
  /** JSON: the key holding the value, when its parent is an object (for a suffixed sibling). */
  key?: string | undefined;
}

/** A data row: its raw text (line ending included), where it starts, and its cells to translate. */
export interface Row {
  raw: string;
  line: number;
  cells: Cell[];
  /** Where the row's content ends (before its line ending): CSV suffixed columns go there. */
  contentEnd: number;
}

/** What a scanner emits, in file order: text to copy as it is, or a row. */
export type Piece = { raw: string } | { row: Row };

/** A file that cannot be read as its format; `line` is 1-based. */
export class ScanError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

const countLines = (text: string, from = 0, to = text.length): number => {
  let lines = 0;
  for (let i = text.indexOf("\n", from); i !== -1 && i < to; i = text.indexOf("\n", i + 1)) lines++;
  return lines;
};

// ------------------------------------------------------------------------------------------ CSV

interface CsvField {
  start: number;
  end: number;
  quoted: boolean;
}

/** Quotes a CSV value when it needs it (or when the cell it replaces was quoted). */
export function quoteCsv(value: string, delimiter: string, quoted: boolean): string {
  if (
    quoted ||
    value.includes('"') ||
    value.includes(delimiter) ||
    value.includes("\n") ||
    value.includes("\r") ||
    value !== value.trim()
  ) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

function csvValue(raw: string, field: CsvField): string {
  if (!field.quoted) return raw.slice(field.start, field.end);
  const close = raw.lastIndexOf('"', field.end - 1);
  return raw.slice(field.start + 1, close).replaceAll('""', '"') + raw.slice(close + 1, field.end);
}

/**
 * CSV/TSV by RFC 4180 rules (quotes double inside quoted fields; a field may span lines), fed
 * text chunks. The header row (when `header`) is parsed to find the columns; `columns` are
 * names, or 1-based positions without a header.
 */
export class CsvScanner {
  private buffer = "";
  private line = 1;
  private indexes: number[] | undefined;
  private readonly special: RegExp;
  /** The header row's names (BOM removed), once read. */
  names: string[] | undefined;

  constructor(
    private readonly delimiter: string,
    header: boolean,
    private readonly columns: readonly string[],
    /** Names of suffixed columns to append to the header, or undefined to translate in place. */
    private readonly suffix: string | undefined,
  ) {
    this.special = new RegExp(`[${delimiter.replace(/[\\\]^-]/g, "\\$&")}\\r\\n]`, "g");
    if (!header) {
      this.indexes = columns.map((column) => {
        const position = Number(column);
        if (!Number.isInteger(position) || position < 1) {
          throw new ScanError(
            `without a header row, columns are 1-based positions ("1", "3"), not "${column}"`,
            1,
          );
        }
        return position - 1;
      });
    }
  }

  *push(text: string, final = false): Generator<Piece> {
    this.buffer += text;
    let pos = 0;
    for (;;) {
      const parsed = this.record(pos, final);
      if (!parsed) break;
      const { fields, end } = parsed;
      const raw = this.buffer.slice(pos, end);
      const line = this.line;
      this.line += countLines(raw);
      const start = pos;
      const rebased = fields.map((field) => ({
        ...field,
        start: field.start - start,
        end: field.end - start,
      }));
      pos = end;
      yield* this.emit(raw, rebased, line);
      if (pos >= this.buffer.length) break;
    }
    this.buffer = this.buffer.slice(pos);
  }

  private *emit(raw: string, fields: CsvField[], line: number): Generator<Piece> {
    const contentEnd = fields.length ? (fields[fields.length - 1] as CsvField).end : 0;
    if (!this.indexes) {
      this.names = fields.map((field, index) => {
        const name = csvValue(raw, field);
        return index === 0 ? name.replace(/^\uFEFF/, "") : name;
      });
      const names = this.names;
      this.indexes = this.columns.map((column) => {
        const index = names.indexOf(column);
        if (index === -1) {
          throw new ScanError(`no column "${column}" in the header (columns: ${names.join(", ")})`, line);
        }
        return index;
      });
      if (this.suffix !== undefined) {
        const added = this.columns
          .map((column) => `${this.delimiter}${quoteCsv(`${column}${this.suffix}`, this.delimiter, false)}`)
          .join("");
        yield { raw: raw.slice(0, contentEnd) + added + raw.slice(contentEnd) };
      } else yield { raw };
      return;
    }
    if (fields.length === 1 && contentEnd === 0) {
      yield { raw }; // a blank line
      return;
    }
    const cells: Cell[] = [];
    for (const index of this.indexes) {
      const field = fields[index];
      if (!field) {
        // A short row: nothing to translate in that column; a suffixed column still gets a cell.
        cells.push({ value: "", start: contentEnd, end: contentEnd, quoted: false });
        continue;
      }
      cells.push({ value: csvValue(raw, field), start: field.start, end: field.end, quoted: field.quoted });
    }
    yield { row: { raw, line, cells, contentEnd } };
  }

  /** One record from `pos`, or undefined when the buffer ends inside it (and more may come). */
  private record(pos: number, final: boolean): { fields: CsvField[]; end: number } | undefined {
    const buffer = this.buffer;
    const fields: CsvField[] = [];
    let i = pos;
    if (i >= buffer.length) return undefined;
    for (;;) {
      const start = i;
      let quoted = false;
      if (buffer[i] === '"') {
        quoted = true;
        let j = i + 1;
        for (;;) {
          const quote = buffer.indexOf('"', j);
          if (quote === -1) {
            if (final) {
              throw new ScanError(
                "a quoted field is never closed",
                this.line + countLines(buffer, pos, start),
              );
            }
            return undefined;
          }
          if (buffer[quote + 1] === '"') {
            j = quote + 2;
            continue;
          }
          if (quote + 1 >= buffer.length && !final) return undefined;
          i = quote + 1;
          break;
        }
      }
      this.special.lastIndex = i;
      const match = this.special.exec(buffer);
      const end = match ? match.index : buffer.length;
      if (!match && !final) return undefined;
      fields.push({ start, end, quoted });
      const char = buffer[end];
      if (char === this.delimiter) {
        i = end + 1;
        continue;
      }
      if (char === "\r") {
        if (end + 1 >= buffer.length && !final) return undefined;
        return { fields, end: end + (buffer[end + 1] === "\n" ? 2 : 1) };
      }
      if (char === "\n") return { fields, end: end + 1 };
      return { fields, end };
    }
  }
}

// ------------------------------------------------------------------------------------------ JSON

type Segment = string;

/** A field path, `review.text` or `items.*.text`, as segments (`*` matches any key or index). */
export function parsePath(path: string): Segment[] {
  return path.split(".");
}

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const SCALAR = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;

/**
 * Finds the string values at `paths` in one JSON value's text. Validates the JSON on the way
 * (throws a `ScanError` with the line inside the text, 1-based).
 */
export function findStrings(text: string, paths: readonly Segment[][]): Cell[] {
  const cells: Cell[] = [];
  let i = 0;
  const path: string[] = [];
  const fail: (what: string) => never = (what) => {
    throw new ScanError(`${what} at offset ${i}`, 1 + countLines(text, 0, i));
  };
  const skip = () => {
    while (i < text.length && WHITESPACE.has(text[i] as string)) i++;
  };
  const readString = (): number => {
    let j = i + 1;
    for (;;) {
      const quote = text.indexOf('"', j);
      if (quote === -1) fail("an unterminated string");
      let backslashes = 0;
      for (let k = quote - 1; text[k] === "\\"; k--) backslashes++;
      if (backslashes % 2 === 0) {
        const start = i;
        i = quote + 1;
        return start;
      }
      j = quote + 1;
    }
  };
  const matches = (): boolean =>
    paths.some(
      (target) =>
        target.length === path.length && target.every((segment, k) => segment === "*" || segment === path[k]),
    );
  const value = (key: string | undefined): void => {
    const char = text[i];
    if (char === "{") {
      i++;
      skip();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        skip();
        if (text[i] !== '"') fail("expected a key");
        const start = readString();
        let name: string;
        try {
          name = JSON.parse(text.slice(start, i)) as string;
        } catch {
          fail("a malformed key");
        }
        skip();
        if (text[i] !== ":") fail('expected ":"');
        i++;
        skip();
        path.push(name);
        value(name);
        path.pop();
        skip();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        fail('expected "," or "}"');
      }
    } else if (char === "[") {
      i++;
      skip();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (let index = 0; ; index++) {
        skip();
        path.push(String(index));
        value(undefined);
        path.pop();
        skip();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        fail('expected "," or "]"');
      }
    } else if (char === '"') {
      const start = readString();
      if (matches()) {
        let decoded: string;
        try {
          decoded = JSON.parse(text.slice(start, i)) as string;
        } catch {
          fail("a malformed string");
        }
        cells.push({ value: decoded, start, end: i, quoted: true, key });
      }
    } else {
      SCALAR.lastIndex = i;
      if (!SCALAR.test(text)) fail("an unexpected character");
      i = SCALAR.lastIndex;
    }
  };
  skip();
  value(undefined);
  skip();
  if (i !== text.length) fail("text after the value");
  return cells;
}

/** NDJSON: one JSON value per line; blank lines are copied as they are. */
export class NdjsonScanner {
  private buffer = "";
  private line = 1;

  constructor(private readonly paths: readonly Segment[][]) {}

  *push(text: string, final = false): Generator<Piece> {
    this.buffer += text;
    let pos = 0;
    for (;;) {
      const newline = this.buffer.indexOf("\n", pos);
      if (newline === -1 && !(final && pos < this.buffer.length)) break;
      const end = newline === -1 ? this.buffer.length : newline + 1;
      const raw = this.buffer.slice(pos, end);
      pos = end;
      const line = this.line++;
      const content = raw.replace(/\r?\n$/, "");
      if (content.trim() === "") {
        yield { raw };
        continue;
      }
      let cells: Cell[];
      try {
        cells = findStrings(content, this.paths);
      } catch (error) {
        if (error instanceof ScanError) throw new ScanError(error.message, line);
        throw error;
      }
      yield { row: { raw, line, cells, contentEnd: content.length } };
    }
    this.buffer = this.buffer.slice(pos);
  }
}

/**
 * A JSON array of values, streamed: each top-level element is a row; the brackets, commas and
 * whitespace between elements are copied as they are.
 */
export class JsonArrayScanner {
  private buffer = "";
  private line = 1;
  private phase: "start" | "between" | "element" | "end" = "start";
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Where scanning resumes inside the current element. */
  private scan = 0;

  constructor(private readonly paths: readonly Segment[][]) {}

  *push(text: string, final = false): Generator<Piece> {
    this.buffer += text;
    let pos = 0;
    const buffer = this.buffer;
    while (pos < buffer.length || (final && this.phase === "element")) {
      if (this.phase === "start" || this.phase === "between" || this.phase === "end") {
        let i = pos;
        while (i < buffer.length && WHITESPACE.has(buffer[i] as string)) i++;
        if (i >= buffer.length) break;
        const char = buffer[i] as string;
        if (this.phase === "start") {
          if (char !== "[" && !(char === "\uFEFF" && i === 0)) {
            throw new ScanError(
              'a JSON file to translate must hold an array of values ("[ … ]"); use NDJSON for one value per line',
              this.line,
            );
          }
          if (char === "\uFEFF") {
            yield* this.glue(buffer.slice(pos, i + 1));
            pos = i + 1;
            continue;
          }
          yield* this.glue(buffer.slice(pos, i + 1));
          pos = i + 1;
          this.phase = "between";
          continue;
        }
        if (this.phase === "end") {
          throw new ScanError("text after the closing ]", this.line + countLines(buffer, pos, i));
        }
        if (char === "," || char === "]") {
          yield* this.glue(buffer.slice(pos, i + 1));
          pos = i + 1;
          if (char === "]") this.phase = "end";
          continue;
        }
        yield* this.glue(buffer.slice(pos, i));
        pos = i;
        this.phase = "element";
        this.depth = 0;
        this.inString = false;
        this.escaped = false;
        this.scan = i;
      }
      // Inside an element: find where it ends (depth back to 0, outside strings).
      let i = this.scan;
      let done = -1;
      for (; i < buffer.length; i++) {
        const char = buffer[i] as string;
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (char === "\\") this.escaped = true;
          else if (char === '"') {
            this.inString = false;
            if (this.depth === 0) {
              done = i + 1;
              break;
            }
          }
        } else if (char === '"') this.inString = true;
        else if (char === "{" || char === "[") this.depth++;
        else if (char === "}" || char === "]") {
          if (this.depth === 0) {
            done = i; // a scalar element ended by the closing ]
            break;
          }
          this.depth--;
          if (this.depth === 0) {
            done = i + 1;
            break;
          }
        } else if (this.depth === 0 && (char === "," || WHITESPACE.has(char))) {
          done = i;
          break;
        }
      }
      if (done === -1) {
        if (!final) {
          this.scan = i;
          break;
        }
        throw new ScanError("the file ends inside an element", this.line + countLines(buffer, pos));
      }
      const raw = buffer.slice(pos, done);
      const line = this.line;
      let cells: Cell[];
      try {
        cells = findStrings(raw, this.paths);
      } catch (error) {
        if (error instanceof ScanError) throw new ScanError(error.message, line + error.line - 1);
        throw error;
      }
      this.line += countLines(raw);
      yield { row: { raw, line, cells, contentEnd: raw.length } };
      pos = done;
      this.phase = "between";
    }
    if (final && this.phase === "end" && pos < buffer.length) {
      yield* this.glue(buffer.slice(pos));
      pos = buffer.length;
    }
    if (final && this.phase !== "end") {
      throw new ScanError(
        this.phase === "start"
          ? "the file is empty; expected a JSON array"
          : "the array is never closed with ]",
        this.line,
      );
    }
    this.buffer = buffer.slice(pos);
    this.scan -= pos;
  }

  private *glue(raw: string): Generator<Piece> {
    if (raw === "") return;
    this.line += countLines(raw);
    yield { raw };
  }
}
