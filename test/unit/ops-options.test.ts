import { describe, expect, it } from 'vitest';
import { takeOption } from '../../lib/ops/options';

class ProbeUsageError extends Error {}
const refused = (problem: string): Error => new ProbeUsageError(problem);

describe('takeOption', () => {
  it('answers the value after the option and removes both words, leaving the rest in order', () => {
    const words = ['list', '--status', 'PAID', '--json'];

    const value = takeOption(words, '--status', refused);

    expect(value).toBe('PAID');
    expect(words).toEqual(['list', '--json']);
  });

  it('answers undefined for an absent option and changes nothing', () => {
    const words = ['list'];

    expect(takeOption(words, '--status', refused)).toBeUndefined();
    expect(words).toEqual(['list']);
  });

  it('refuses an option followed by nothing or by another option, with the caller’s error', () => {
    expect(() => takeOption(['list', '--status'], '--status', refused)).toThrow(
      new ProbeUsageError('--status needs a value'),
    );
    expect(() => takeOption(['--limit', '--json'], '--limit', refused)).toThrow(ProbeUsageError);
  });
});
