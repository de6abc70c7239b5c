/** ISO 639-1 → ISO 639-3 codes of the languages Apertium (and most engines) name by three letters. */
const ISO3: Record<string, string> = {
  af: "afr",
  an: "arg",
  ar: "ara",
  be: "bel",
  bg: "bul",
  br: "bre",
  ca: "cat",
  cs: "ces",
  cy: "cym",
  da: "dan",
  de: "deu",
  el: "ell",
  en: "eng",
  eo: "epo",
  es: "spa",
  et: "est",
  eu: "eus",
  fa: "fas",
  fi: "fin",
  fo: "fao",
  fr: "fra",
  ga: "gle",
  gl: "glg",
  he: "heb",
  hi: "hin",
  hr: "hbs",
  hu: "hun",
  id: "ind",
  is: "isl",
  it: "ita",
  kk: "kaz",
  ky: "kir",
  lt: "lit",
  lv: "lav",
  mk: "mkd",
  ms: "msa",
  mt: "mlt",
  nb: "nob",
  nl: "nld",
  nn: "nno",
  no: "nor",
  oc: "oci",
  pl: "pol",
  pt: "por",
  ro: "ron",
  ru: "rus",
  sc: "srd",
  se: "sme",
  sh: "hbs",
  sk: "slk",
  sl: "slv",
  sq: "sqi",
  sr: "hbs",
  sv: "swe",
  tr: "tur",
  tt: "tat",
  uk: "ukr",
  ur: "urd",
  uz: "uzb",
};

const ISO1 = Object.fromEntries(
  Object.entries(ISO3)
    .filter(([two]) => !["hr", "sr", "sh"].includes(two))
    .map(([two, three]) => [three, two]),
);
ISO1.hbs = "sh";

/** A language code as the tasks accept it: `en`, `eng`, `en-US`, `pt_BR`, `zh-Hans`. */
export const LANGUAGE_CODE = /^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$/;

/** `"en-us"` / `"EN_US"` → `{ base: "en", region: "US" }`. */
export function splitCode(code: string): { base: string; region: string | undefined } {
  const [base = "", region] = code.split(/[-_]/);
  return { base: base.toLowerCase(), region: region?.toUpperCase() };
}

/** The three-letter code of a language (`en` → `eng`); three-letter codes pass through. */
export function toIso3(base: string): string {
  const lower = base.toLowerCase();
  return ISO3[lower] ?? lower;
}

/** The two-letter code of an Apertium language (`eng` → `en`, `eng_US` → `en-US`), else the code itself. */
export function fromApertium(code: string): string {
  const [base = "", variant] = code.split("_");
  const two = ISO1[base] ?? base;
  return variant ? `${two}-${variant}` : two;
}

/** A code in the canonical form used in cache keys and results: lower-case base, upper-case region. */
export function canonicalCode(code: string): string {
  const { base, region } = splitCode(code);
  return region ? `${base}-${region}` : base;
}
