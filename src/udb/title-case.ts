/**
 * Python's `str.title()` (CPython `do_title`), which the original UDB applies to every stored
 * first and last name (spec §7.6: `jean-pierre` → `Jean-Pierre`, `o'neil` → `O'Neil`,
 * `cana_p` → `Cana_P`). A code point that follows a cased one is lowercased, any other one is
 * title-cased; "cased" is the Unicode `Cased` property of the *original* code point, so digits,
 * `_`, `'` and `-` all start a new word.
 */
export function pythonTitle(text: string): string {
  const chars = Array.from(text);
  let out = '';
  let previousIsCased = false;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    out += previousIsCased ? pythonLower(chars, i) : titleOf(c);
    previousIsCased = CASED.test(c);
  }
  return out;
}

const CASED = /^\p{Cased}$/u;
const CASE_IGNORABLE = /^\p{Case_Ignorable}$/u;

/**
 * Full titlecase mappings that differ from the uppercase JavaScript gives (UnicodeData
 * titlecase column + SpecialCasing): digraphs, ligatures, Georgian Mkhedruli (title-cases to
 * itself since Unicode 11) and Greek letters with ypogegrammeni.
 */
const TITLE_EXCEPTIONS: ReadonlyMap<number, string> = buildTitleExceptions();

function buildTitleExceptions(): Map<number, string> {
  const m = new Map<number, string>();
  const s = (...cps: number[]) => String.fromCodePoint(...cps);
  m.set(0xdf, 'Ss');
  for (const [from, to] of [
    [0x1c4, 0x1c5],
    [0x1c7, 0x1c8],
    [0x1ca, 0x1cb],
    [0x1f1, 0x1f2],
  ] as const) {
    for (let cp = from; cp < from + 3; cp++) m.set(cp, s(to));
  }
  m.set(0x587, s(0x535, 0x582));
  for (let cp = 0x10d0; cp <= 0x10ff; cp++) if (cp !== 0x10fb && cp !== 0x10fc) m.set(cp, s(cp));
  for (const base of [0x1f80, 0x1f90, 0x1fa0]) {
    for (let k = 0; k < 16; k++) m.set(base + k, s(base + 8 + (k & 7)));
  }
  const greek: Array<[number, number[]]> = [
    [0x1fb2, [0x1fba, 0x345]],
    [0x1fb3, [0x1fbc]],
    [0x1fb4, [0x386, 0x345]],
    [0x1fb7, [0x391, 0x342, 0x345]],
    [0x1fbc, [0x1fbc]],
    [0x1fc2, [0x1fca, 0x345]],
    [0x1fc3, [0x1fcc]],
    [0x1fc4, [0x389, 0x345]],
    [0x1fc7, [0x397, 0x342, 0x345]],
    [0x1fcc, [0x1fcc]],
    [0x1ff2, [0x1ffa, 0x345]],
    [0x1ff3, [0x1ffc]],
    [0x1ff4, [0x38f, 0x345]],
    [0x1ff7, [0x3a9, 0x342, 0x345]],
    [0x1ffc, [0x1ffc]],
  ];
  for (const [cp, to] of greek) m.set(cp, s(...to));
  const ligatures: Array<[number, string]> = [
    [0xfb00, 'Ff'],
    [0xfb01, 'Fi'],
    [0xfb02, 'Fl'],
    [0xfb03, 'Ffi'],
    [0xfb04, 'Ffl'],
    [0xfb05, 'St'],
    [0xfb06, 'St'],
    [0xfb13, s(0x544, 0x576)],
    [0xfb14, s(0x544, 0x565)],
    [0xfb15, s(0x544, 0x56b)],
    [0xfb16, s(0x54e, 0x576)],
    [0xfb17, s(0x544, 0x56d)],
  ];
  for (const [cp, to] of ligatures) m.set(cp, to);
  return m;
}

function titleOf(c: string): string {
  return TITLE_EXCEPTIONS.get(c.codePointAt(0)!) ?? c.toUpperCase();
}

/** Lowercase of `chars[i]` with Python's final-sigma rule (CPython `handle_capital_sigma`). */
function pythonLower(chars: readonly string[], i: number): string {
  const c = chars[i]!;
  if (c !== '\u03a3') return c.toLowerCase();
  return casedAround(chars, i, -1) && !casedAround(chars, i, 1) ? '\u03c2' : '\u03c3';
}

/** Whether the first non-case-ignorable code point from `i` in direction `step` is cased. */
function casedAround(chars: readonly string[], i: number, step: 1 | -1): boolean {
  for (let j = i + step; j >= 0 && j < chars.length; j += step) {
    const c = chars[j]!;
    if (CASE_IGNORABLE.test(c)) continue;
    return CASED.test(c);
  }
  return false;
}
