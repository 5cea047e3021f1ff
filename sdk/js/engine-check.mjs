// What node runs but the component's engine (StarlingMonkey: SpiderMonkey built without ICU)
// does not, found in a guest's sources before they are bundled, so the author hears of it at
// `subnetd build` with the file and line instead of from a failed wizer initialisation or a
// ReferenceError in the first call.

/** The constructs, each with what the engine does with it and what to write instead. */
export const UNSUPPORTED = [
  {
    construct: 'a Unicode property escape (\\p{...} / \\P{...}) in a regular expression',
    pattern: /\\[pP]\{/,
    fails: 'the build fails in wizer with "SyntaxError: invalid class property name in regular expression"',
    instead: 'use explicit ranges, e.g. /[^A-Za-z0-9\\u00C0-\\u024F]+/u',
  },
  {
    construct: 'Intl',
    pattern: /\bIntl\s*[.[]/,
    fails: 'Intl is not defined in the engine (ReferenceError at the first call)',
    instead: 'format numbers and dates by hand (toFixed, padStart)',
  },
  {
    construct: 'String.prototype.normalize',
    pattern: /\.normalize\s*\(/,
    fails: '"normalize" is not a function in the engine (TypeError at the first call)',
    instead: 'compare or fold text without Unicode normalisation, or normalise on the miner side',
  },
];

/** Blanks comments (keeping line breaks), so a construct named in a comment is not reported. */
function withoutComments(code) {
  return code
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:\\'"`])\/\/[^\n]*/g, (_, before) => before);
}

/** Every use of an unsupported construct in `code`: `{ line, construct, fails, instead }`. */
export function scanSource(code) {
  const found = [];
  withoutComments(code)
    .split('\n')
    .forEach((text, i) => {
      for (const u of UNSUPPORTED) {
        if (u.pattern.test(text)) found.push({ line: i + 1, construct: u.construct, fails: u.fails, instead: u.instead });
      }
    });
  return found;
}

/** A rolldown plugin that collects the unsupported constructs of every module it loads into `problems`. */
export function engineCheck(problems, relativeName) {
  return {
    name: 'subnetd-engine-check',
    transform(code, id) {
      if (!/\.[cm]?[jt]s$/.test(id)) return null;
      for (const p of scanSource(code)) problems.push({ file: relativeName(id), ...p });
      return null;
    },
  };
}

/** The build's message for `problems`. */
export function describe(problems) {
  const lines = problems.map((p) => `  ${p.file}:${p.line}: ${p.construct}: ${p.fails}; ${p.instead}`);
  return `the guest uses what the component's JavaScript engine does not support:\n${lines.join('\n')}`;
}
