interface PendingSleep {
  readonly timer: NodeJS.Timeout;
  readonly resolve: (completed: boolean) => void;
}

/** The endpoint's shutdown, seen by everything that waits: a stop ends every pending sleep at once. */
export class StopSignal {
  private readonly sleeping = new Set<PendingSleep>();
  private stoppedFlag = false;

  public get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** Resolves true after `ms`, or false as soon as the endpoint stops. */
  public sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const sleep: PendingSleep = {
        timer: setTimeout(() => {
          this.sleeping.delete(sleep);
          resolve(true);
        }, ms),
        resolve,
      };
      this.sleeping.add(sleep);
    });
  }

  public stop(): void {
    this.stoppedFlag = true;
    for (const sleep of this.sleeping) {
      clearTimeout(sleep.timer);
      sleep.resolve(false);
    }
    this.sleeping.clear();
  }
}
