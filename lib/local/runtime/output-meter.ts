import type { Usage } from './sdk-instrumentation';

/**
 * What a function writes to stdout and stderr is what Lambda ships to its CloudWatch Logs log group (Powertools
 * log lines, EMF metric blobs, anything `console` prints), and CloudWatch Logs bills it per GB ingested. An
 * execution environment installs this meter before its handler module loads, so handlers know nothing of it.
 */

export interface OutputCount {
  readonly bytes: number;
  /** Lines finished (newlines written): Lambda makes one log event of each line. */
  readonly events: number;
}

/** Usage keys of the output, before the host appends `@<function>`; the counts are stored in `requests`. */
export const LOG_BYTES_KEY = 'CloudWatchLogs:Ingested(bytes)';
export const LOG_EVENTS_KEY = 'CloudWatchLogs:Ingested(events)';

const NEWLINE = 0x0a;

function isEncoding(value: unknown): value is BufferEncoding {
  return typeof value === 'string' && Buffer.isEncoding(value);
}

/** The bytes and finished lines in one chunk handed to `stream.write(chunk, encoding)`. */
export function countChunk(chunk: unknown, encoding?: unknown): OutputCount {
  if (typeof chunk === 'string') {
    let events = 0;
    for (let at = chunk.indexOf('\n'); at >= 0; at = chunk.indexOf('\n', at + 1)) events += 1;
    return { bytes: Buffer.byteLength(chunk, isEncoding(encoding) ? encoding : 'utf8'), events };
  }
  if (chunk instanceof Uint8Array) {
    let events = 0;
    for (const byte of chunk) if (byte === NEWLINE) events += 1;
    return { bytes: chunk.byteLength, events };
  }
  return { bytes: 0, events: 0 };
}

/** The output counts as usage entries; nothing when nothing was written. */
export function outputUsage(count: OutputCount): Usage {
  if (count.bytes === 0) return {};
  const entry = (requests: number) => ({ requests, readCapacityUnits: 0, writeCapacityUnits: 0 });
  return { [LOG_BYTES_KEY]: entry(count.bytes), [LOG_EVENTS_KEY]: entry(count.events) };
}

export interface OutputMeter {
  /** Output since the last call. */
  take(): OutputCount;
}

type WriteCallback = (error?: Error | null) => void;

/**
 * `text` with `label` and a space at the start of each of its lines; `atLineStart` says whether the text
 * begins a line (a previous write ended with a newline), and the result says whether the next write will.
 */
export function labelLines(
  text: string,
  label: string,
  atLineStart: boolean,
): { readonly text: string; readonly atLineStart: boolean } {
  if (text.length === 0) return { text, atLineStart };
  const lines = text.split('\n');
  const endsLine = lines.at(-1) === '';
  const labelled = lines.map((line, index) => {
    const startsLine = index > 0 || atLineStart;
    const isTail = endsLine && index === lines.length - 1;
    return startsLine && !isTail ? `${label} ${line}` : line;
  });
  return { text: labelled.join('\n'), atLineStart: endsLine };
}

/**
 * Wraps `write` of this thread's stdout and stderr to count what goes through them (the global `console` and
 * the private `Console` instances Powertools builds on `process.stdout` all end in these calls). With `discard`,
 * the output is counted and dropped, so a benchmark can run functions at their deployed log level without
 * flooding the terminal. With `label`, each line passed on starts with it: in AWS each function has a log group
 * of its own, while locally every function writes to one terminal. The count is of the function's bytes only.
 */
export function installOutputMeter(options: {
  readonly discard: boolean;
  readonly label?: string;
}): OutputMeter {
  let bytes = 0;
  let events = 0;
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    let atLineStart = true;
    const write = (...args: [chunk: unknown, encodingOrCallback?: unknown, callback?: unknown]): boolean => {
      const [chunk, encodingOrCallback, callback] = args;
      const count = countChunk(chunk, encodingOrCallback);
      bytes += count.bytes;
      events += count.events;
      const done = [encodingOrCallback, callback].find((candidate) => typeof candidate === 'function');
      if (
        !options.discard &&
        options.label !== undefined &&
        (typeof chunk === 'string' || chunk instanceof Uint8Array)
      ) {
        const text =
          typeof chunk === 'string'
            ? Buffer.from(chunk, isEncoding(encodingOrCallback) ? encodingOrCallback : 'utf8').toString(
                'utf8',
              )
            : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
        const labelled = labelLines(text, options.label, atLineStart);
        atLineStart = labelled.atLineStart;
        return Reflect.apply(original, stream, [labelled.text, 'utf8', done]) as boolean;
      }
      if (!options.discard) return Reflect.apply(original, stream, args) as boolean;
      // As a stream would: the callback after the write has "completed", never within the call.
      if (done !== undefined) process.nextTick(done as WriteCallback, null);
      return true;
    };
    stream.write = write as typeof stream.write;
  }
  return {
    take: () => {
      const taken = { bytes, events };
      bytes = 0;
      events = 0;
      return taken;
    },
  };
}
