import { BaseSequencer, type TestSpecification } from 'vitest/node';

function isEndToEnd(file: TestSpecification): boolean {
  return file.moduleId.includes('/test/e2e/');
}

/**
 * Vitest's own order (failed files first, then the longest of the last run, or on a fresh clone the largest), with
 * the end-to-end files ahead of all others: each runs a whole local system for up to a minute, much of it waiting
 * on timers, so begun late one of them would run on alone at the end while the other workers have nothing left.
 */
export default class EndToEndFirstSequencer extends BaseSequencer {
  public override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return [...sorted.filter(isEndToEnd), ...sorted.filter((file) => !isEndToEnd(file))];
  }
}
