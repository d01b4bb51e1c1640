// Golden ruleset comparison as upstream's assertNFTablesTransactionEqual: blank lines and
// "#" comments dropped, lines sorted by object type, then object name, rules keeping their
// order within a chain.

import assert from 'node:assert/strict';

const ORDER: Readonly<Record<string, number>> = { table: 10, chain: 9, rule: 8, set: 7, map: 6, element: 5 };

export function sortNftLines(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const indexed = lines.map((l, i) => ({ l, i, w: l.split(' ') }));
  indexed.sort((a, b) => {
    const ta = a.w[1] ?? '';
    const tb = b.w[1] ?? '';
    if (ta !== tb) return (ORDER[tb] ?? 0) - (ORDER[ta] ?? 0);
    const na = a.w[4] ?? '';
    const nb = b.w[4] ?? '';
    if (na !== nb) return na < nb ? -1 : 1;
    if (ta === 'rule') return a.i - b.i;
    return a.l < b.l ? -1 : a.l > b.l ? 1 : 0;
  });
  return indexed.map((x) => x.l).join('\n');
}

export function assertNftEqual(actual: string, expected: string, message?: string): void {
  assert.equal(sortNftLines(actual), sortNftLines(expected), message);
}

/** Strip a common leading indentation (like Go's dedent). */
export function dedent(text: string): string {
  const lines = text.split('\n');
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^\s*/.exec(l)?.[0].length ?? 0);
  const n = indents.length > 0 ? Math.min(...indents) : 0;
  return lines.map((l) => l.slice(n)).join('\n');
}
