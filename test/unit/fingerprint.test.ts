import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../functions/domain/fingerprint';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

describe('fingerprint', () => {
  it('hashes the canonical JSON: keys sorted at every depth, undefined members dropped, arrays kept in order', () => {
    // Prepare
    const request = { zeta: [3, { y: 'b', x: undefined, w: true }], alpha: null, mid: { c: 1, a: 2, b: 3 } };

    // Act
    const hash = fingerprint(request);

    // Assess
    expect(hash).toBe(sha256('{"alpha":null,"mid":{"a":2,"b":3,"c":1},"zeta":[3,{"w":true,"y":"b"}]}'));
  });

  it('hashes a top-level array and a scalar as their JSON', () => {
    expect(fingerprint([{ b: 1, a: 'x' }, 'y'])).toBe(sha256('[{"a":"x","b":1},"y"]'));
    expect(fingerprint('text')).toBe(sha256('"text"'));
  });
});
