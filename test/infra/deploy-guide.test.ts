import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { appModel, settingNames } from '../../lib/model';
import { type Synthesized, synthesize } from '../support/synth';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const GUIDE = readFileSync(path.join(REPOSITORY_ROOT, 'docs', 'deploy.md'), 'utf8');

/** The backticked names in the first column of the first table after `heading` in the guide. */
function firstColumnNames(heading: string): string[] {
  const start = GUIDE.indexOf(heading);
  expect(start, `docs/deploy.md has no "${heading}"`).toBeGreaterThanOrEqual(0);
  const lines = GUIDE.slice(start).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const end = lines.findIndex((line, index) => index > first && !line.startsWith('|'));
  const body = lines.slice(first + 2, end);
  return body.flatMap((row) =>
    [...(row.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? ''),
  );
}

/** Every context key `bin/app.ts` reads by name, and every setting of the model (read by its name too). */
function contextKeysOfTheApp(): string[] {
  const app = readFileSync(path.join(REPOSITORY_ROOT, 'bin', 'app.ts'), 'utf8');
  const literal = [...app.matchAll(/tryGetContext\('([^']+)'\)/g)].map((match) => match[1] ?? '');
  return [...literal, ...settingNames(appModel)].sort();
}

describe('docs/deploy.md', () => {
  let real: Synthesized;
  beforeAll(() => {
    real = synthesize(appModel);
  });

  it('lists every output of the stack, and no output it does not have', () => {
    // Prepare
    const outputs = Object.keys(real.template.findOutputs('*')).sort();

    // Act
    const documented = firstColumnNames('The outputs (also in').sort();

    // Assess
    expect(outputs.length).toBeGreaterThan(0);
    expect(documented).toEqual(outputs);
  });

  it('lists every context option bin/app.ts reads, and no other', () => {
    // Prepare
    const read = contextKeysOfTheApp();

    // Act
    const documented = firstColumnNames('The context options').sort();

    // Assess
    expect(read).toContain('stackName');
    expect(documented).toEqual(read);
  });
});
