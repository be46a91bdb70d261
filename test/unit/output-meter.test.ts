import { describe, expect, it } from 'vitest';
import { countChunk, labelLines, outputUsage } from '../../lib/local/runtime/output-meter';

describe('output meter', () => {
  it('counts bytes in the encoding written and one log event per finished line', () => {
    expect(countChunk('héllo\nwörld\n')).toEqual({ bytes: 14, events: 2 });
    expect(countChunk('00ff0a', 'hex')).toEqual({ bytes: 3, events: 0 });
    expect(countChunk(new Uint8Array([0x41, 0x0a, 0x42, 0x0a]))).toEqual({ bytes: 4, events: 2 });
    expect(countChunk('partial line')).toEqual({ bytes: 12, events: 0 });
  });

  it('reports bytes and events as usage, and nothing when nothing was written', () => {
    expect(outputUsage({ bytes: 0, events: 0 })).toEqual({});
    expect(outputUsage({ bytes: 120, events: 2 })).toEqual({
      'CloudWatchLogs:Ingested(bytes)': { requests: 120, readCapacityUnits: 0, writeCapacityUnits: 0 },
      'CloudWatchLogs:Ingested(events)': { requests: 2, readCapacityUnits: 0, writeCapacityUnits: 0 },
    });
  });

  it('starts each line passed on with the label, across writes that split lines', () => {
    const first = labelLines('{"a":1}\n{"b"', '[fn]', true);
    const second = labelLines(':2}\n', '[fn]', first.atLineStart);
    const third = labelLines('', '[fn]', second.atLineStart);

    expect(first).toEqual({ text: '[fn] {"a":1}\n[fn] {"b"', atLineStart: false });
    expect(second).toEqual({ text: ':2}\n', atLineStart: true });
    expect(third).toEqual({ text: '', atLineStart: true });
    expect(labelLines('x\n\ny\n', '[fn]', true).text).toBe('[fn] x\n[fn] \n[fn] y\n');
  });
});
