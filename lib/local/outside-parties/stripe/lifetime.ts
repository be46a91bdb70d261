import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { LocalServerError } from '../../http';
import { sleep } from '../../runtime/runner-support';

/** A call was made on (or a wait was interrupted by) a stopped provider. */
export class FakePaymentProviderStoppedError extends LocalServerError {
  public override readonly name = 'FakePaymentProviderStoppedError';

  public constructor() {
    super('FAKE_PAYMENT_PROVIDER_STOPPED', 'the fake payment provider is stopped');
  }
}

/** An argument of a method (or an option) of the fake was invalid. */
export class FakePaymentProviderInputError extends LocalServerError {
  public override readonly name = 'FakePaymentProviderInputError';

  public constructor(message: string) {
    super('FAKE_PAYMENT_PROVIDER_INVALID_INPUT', message);
  }
}

/** Stripe's ids: a prefix and a random tail. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Everything the fake has scheduled (settling payments and refunds, webhook deliveries and their retries), so
 * that stop() ends all of it at once.
 */
export class Lifetime {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controller = new AbortController();

  public constructor() {
    // Every pending wait and webhook request listens on it; many at once are expected, not a leak (0: no limit).
    setMaxListeners(0, this.controller.signal);
  }

  public get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  /** Aborted by stop(): ends in-flight webhook requests. */
  public get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Runs `act` after `ms`, unless the provider stops first. */
  public later(ms: number, act: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      act();
    }, ms);
    this.timers.add(timer);
  }

  /** Resolves after `ms`, or rejects with the stopped error as soon as the provider stops. */
  public async sleep(ms: number): Promise<void> {
    await sleep(ms, this.signal);
    if (this.stopped) throw new FakePaymentProviderStoppedError();
  }

  public stop(): void {
    this.controller.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
