import { describe, expect, it } from 'vitest';
import { CpuMeasurementError, cpuSnapshot } from '../../lib/sim/cpu';

// Above Linux's largest possible pid_max (2^22), so no process can have it.
const NO_SUCH_PID = 4_194_305;

describe('cpuSnapshot', () => {
  it('reads this process on Linux, with its main thread having run; elsewhere it measures nothing', async () => {
    const snapshot = await cpuSnapshot({ dynamodbLocalPid: process.pid });
    if (process.platform !== 'linux') {
      expect(snapshot).toBeUndefined();
      return;
    }
    expect(snapshot?.pid).toBe(process.pid);
    expect(snapshot?.clockTicksPerSecond).toBeGreaterThan(0);
    const main = snapshot?.threads.find((thread) => thread.tid === process.pid);
    expect(main?.cpuTicks).toBeGreaterThan(0);
    expect(snapshot?.processTicks).toBeGreaterThanOrEqual(main?.cpuTicks ?? Number.POSITIVE_INFINITY);
    // This process stands in for DynamoDB Local: any process's whole CPU time is read the same way.
    expect(snapshot?.dynamodbLocalTicks).toBeGreaterThan(0);
    expect(snapshot?.machineBusyTicks).toBeGreaterThanOrEqual(
      snapshot?.processTicks ?? Number.POSITIVE_INFINITY,
    );
  });

  it('fails, on Linux, when the DynamoDB Local it was pointed at is gone', async () => {
    const snapshot = cpuSnapshot({ dynamodbLocalPid: NO_SUCH_PID });
    if (process.platform !== 'linux') {
      await expect(snapshot).resolves.toBeUndefined();
      return;
    }
    await expect(snapshot).rejects.toThrow(CpuMeasurementError);
  });
});
