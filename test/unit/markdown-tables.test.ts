import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SEPARATOR_ROW = /^\|(\s*:?-+:?\s*\|)+\s*$/;

/** The cells of a table row, with escaped pipes (`\|`, as in `dlq list\|show`) kept inside their cell. */
function cells(row: string): number {
  return row.trim().replace(/\\\|/g, '').split('|').length - 2;
}

/**
 * What keeps a table from rendering as one table in GitHub Markdown: rows that follow no header and separator
 * (a blank line splits a table, and its second half becomes plain text), or a row with another number of cells.
 */
function tableProblems(markdown: string): string[] {
  const problems: string[] = [];
  const lines = markdown.split('\n');
  let inFence = false;
  let block: { start: number; columns: number } | undefined;
  lines.forEach((line, index) => {
    if (line.trimStart().startsWith('```')) inFence = !inFence;
    const isRow = !inFence && line.trimStart().startsWith('|');
    if (!isRow) {
      block = undefined;
      return;
    }
    if (block === undefined) {
      const separator = lines[index + 1] ?? '';
      if (!SEPARATOR_ROW.test(separator.trim())) {
        problems.push(`line ${index + 1}: a table row without a header and separator row above it`);
      }
      block = { start: index, columns: cells(line) };
      return;
    }
    if (cells(line) !== block.columns) {
      problems.push(
        `line ${index + 1}: ${cells(line)} cells in a table of ${block.columns} (from line ${block.start + 1})`,
      );
    }
  });
  return problems;
}

function markdownFiles(): string[] {
  const docs = readdirSync(path.join(REPOSITORY_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.join('docs', name));
  return ['README.md', ...docs];
}

describe('Markdown tables', () => {
  it.each(markdownFiles())('render as whole tables in %s', (file) => {
    // Act
    const problems = tableProblems(readFileSync(path.join(REPOSITORY_ROOT, file), 'utf8'));

    // Assess
    expect(problems).toEqual([]);
  });

  it('are found broken when a blank line splits one or a row has a cell too many', () => {
    // Prepare
    const broken = [
      '| a | b |',
      '| - | - |',
      '| 1 | 2 |',
      '',
      '| 3 | 4 |',
      '',
      '| x | y |',
      '| --- | --- |',
      '| 1 | 2 | 3 |',
    ].join('\n');

    // Act
    const problems = tableProblems(broken);

    // Assess
    expect(problems).toEqual([
      'line 5: a table row without a header and separator row above it',
      'line 9: 3 cells in a table of 2 (from line 7)',
    ]);
  });
});
