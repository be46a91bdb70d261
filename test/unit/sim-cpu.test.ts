import { describe, expect, it } from 'vitest';
import { benchCpu, formatCpu } from '../../lib/sim/bench';
import {
  CpuMeasurementError,
  type CpuSnapshot,
  cpuBudget,
  cpuDelta,
  functionOfThread,
  parseMachineBusyTicks,
  parseProcStat,
  type ThreadSample,
  threadGroup,
} from '../../lib/sim/cpu';

/** A /proc stat line as Linux writes it, with utime, stime and starttime where proc(5) puts them. */
function statLine(pid: number, comm: string, utime: number, stime: number, starttime: number): string {
  return (
    `${pid} (${comm}) S 11297 11270 10191 0 -1 4194368 344 0 0 0 ${utime} ${stime} 0 0 20 0 13 0 ` +
    `${starttime} 1252458496 14080 18446744073709551615 1 1 0 0 0 0 0 16781312 16386 0 0 0 -1 1 0 0 0 0 0`
  );
}

function thread(tid: number, comm: string, ticks: number, starttime = 1000): ThreadSample {
  return { tid, ...parseProcStat(statLine(tid, comm, ticks, 0, starttime)) };
}

function snapshot(
  takenAtMs: number,
  processTicks: number,
  threads: readonly ThreadSample[],
  dynamodbLocalTicks: number | undefined,
  machineBusyTicks = 0,
): CpuSnapshot {
  return {
    takenAtMs,
    clockTicksPerSecond: 100,
    pid: 500,
    processTicks,
    threads,
    dynamodbLocalTicks,
    machineBusyTicks,
  };
}

const FUNCTIONS = ['create-order', 'fulfillment-order', 'fulfillment-outcome', 'order-events-consumer'];

describe('parseProcStat', () => {
  it('reads utime + stime and starttime after the last parenthesis, whatever the name holds', () => {
    expect(parseProcStat(statLine(42, 'a) b (c) d', 250, 50, 777))).toEqual({
      comm: 'a) b (c) d',
      cpuTicks: 300,
      startTicks: 777,
    });
  });

  it('reads a line as the kernel writes it, with its trailing newline', () => {
    expect(parseProcStat(`${statLine(11353, 'lambda:fulfillm', 12, 3, 5)}\n`)).toEqual({
      comm: 'lambda:fulfillm',
      cpuTicks: 15,
      startTicks: 5,
    });
  });

  it('refuses what is not a stat line', () => {
    expect(() => parseProcStat('no parentheses here')).toThrow(CpuMeasurementError);
    expect(() => parseProcStat('1 (short) S 1 2 3')).toThrow(CpuMeasurementError);
  });
});

describe('parseMachineBusyTicks', () => {
  it('adds user, nice, system, irq, softirq and steal of the first line, not idle or iowait', () => {
    const procStat =
      'cpu  1583399 7 199650 1179022 3425 11 5719 2230 0 0\ncpu0 784061 0 97444 600967 363 0 2476 1123 0 0\n';
    expect(parseMachineBusyTicks(procStat)).toBe(1583399 + 7 + 199650 + 11 + 5719 + 2230);
  });

  it('refuses anything else', () => {
    expect(() => parseMachineBusyTicks('cpu0 1 2 3 4 5 6 7 8\n')).toThrow(CpuMeasurementError);
    expect(() => parseMachineBusyTicks('cpu  1 2 3\n')).toThrow(CpuMeasurementError);
  });
});

describe('threadGroup', () => {
  it.each([
    [500, 'MainThread', 'mainThread'],
    [500, 'node', 'mainThread'],
    [501, 'lambda:fulfillm', 'functions'],
    [502, 'V8Worker', 'v8Platform'],
    [503, 'DelayedTaskSche', 'v8Platform'],
    [504, 'libuv-worker', 'libuvPool'],
    [505, 'WorkerThread', 'otherThreads'],
    [506, 'SignalInspector', 'otherThreads'],
  ] as const)('tid %i named %s is %s', (tid, comm, group) => {
    expect(threadGroup({ tid, comm }, 500)).toBe(group);
  });
});

describe('functionOfThread', () => {
  it('names the one declared function whose thread name was cut to this', () => {
    expect(functionOfThread('lambda:order-ev', FUNCTIONS)).toBe('order-events-consumer');
    expect(functionOfThread('lambda:create-o', FUNCTIONS)).toBe('create-order');
  });

  it('marks the cut name when two functions cut to it, and keeps it when none is declared', () => {
    expect(functionOfThread('lambda:fulfillm', FUNCTIONS)).toBe('fulfillm*');
    expect(functionOfThread('lambda:unknown', FUNCTIONS)).toBe('unknown');
  });
});

describe('cpuDelta', () => {
  const before = snapshot(
    1_000,
    1_000,
    [
      thread(500, 'MainThread', 400),
      thread(501, 'lambda:order-ev', 100),
      thread(502, 'V8Worker', 50),
      thread(503, 'lambda:fulfillm', 200),
      // Ends before the second snapshot: its time after this one shows as exited.
      thread(504, 'lambda:create-o', 100),
      thread(505, 'libuv-worker', 10),
      thread(506, 'WorkerThread', 140),
    ],
    3_000,
  );
  const after = snapshot(
    11_000,
    2_300,
    [
      thread(500, 'MainThread', 600),
      thread(501, 'lambda:order-ev', 300),
      thread(502, 'V8Worker', 250),
      thread(503, 'lambda:fulfillm', 300),
      thread(505, 'libuv-worker', 20),
      thread(506, 'WorkerThread', 150),
      // Started in between, on the tid of one that ended before the first snapshot was even taken.
      thread(507, 'lambda:fulfillm', 80, 9_999),
    ],
    4_000,
  );
  const { wallSeconds, seconds } = cpuDelta(before, after, FUNCTIONS);

  it('splits the process by thread group, and counts what the live threads do not explain as exited', () => {
    expect(wallSeconds).toBe(10);
    expect(seconds.mainThread).toBeCloseTo(2);
    expect(seconds.functions).toBeCloseTo(2 + 1 + 0.8);
    expect(seconds.v8Platform).toBeCloseTo(2);
    expect(seconds.libuvPool).toBeCloseTo(0.1);
    expect(seconds.otherThreads).toBeCloseTo(0.1);
    // 13 s for the process, 11 of them in the threads still alive.
    expect(seconds.exitedThreads).toBeCloseTo(13 - 2 - 3.8 - 2 - 0.1 - 0.1);
    expect(seconds.node).toBeCloseTo(13);
    expect(seconds.dynamodbLocal).toBeCloseTo(10);
    expect(seconds.total).toBeCloseTo(23);
  });

  it('adds up the workers per function, under the cut name when it is ambiguous', () => {
    expect(seconds.byFunction).toEqual({ 'order-events-consumer': 2, 'fulfillm*': expect.closeTo(1.8) });
  });

  it('counts a reused tid from zero, not from the thread that had it before', () => {
    const reused = cpuDelta(
      snapshot(0, 100, [thread(500, 'MainThread', 50), thread(501, 'lambda:create-o', 50, 10)], undefined),
      snapshot(
        1_000,
        130,
        [thread(500, 'MainThread', 60), thread(501, 'lambda:create-o', 20, 90)],
        undefined,
      ),
    );
    expect(reused.seconds.functions).toBeCloseTo(0.2);
    expect(reused.seconds.exitedThreads).toBe(0);
    expect(reused.seconds.dynamodbLocal).toBe(0);
  });
});

describe('cpuBudget', () => {
  const delta = cpuDelta(
    snapshot(0, 0, [thread(500, 'MainThread', 0)], 0),
    snapshot(50_000, 3_000, [thread(500, 'MainThread', 3_000)], 5_000, 9_000),
  );

  it('divides the seconds by the units, and the cores by seconds per unit', () => {
    // 100 orders: 0.5 s of JVM and 0.3 s of Node each, on 2 cores.
    const budget = cpuBudget(delta, 'order', 100, 2);
    expect(budget.cpuSecondsPerUnit.total).toBeCloseTo(0.8);
    expect(budget.cpuSecondsPerUnit.dynamodbLocal).toBeCloseTo(0.5);
    expect(budget.cpuSecondsPerUnit.mainThread).toBeCloseTo(0.3);
    expect(budget.averageCoresBusy).toBeCloseTo(80 / 50);
    // 90 s busy on the machine against our 80: other processes had 10 s of its cores.
    expect(budget.machineCoresBusy).toBeCloseTo(90 / 50);
    expect(budget.maxUnitsPerSecond).toBeCloseTo(2 / 0.8);
    expect(budget.maxUnitsPerSecondDynamodbLocalAlone).toBeCloseTo(2 / 0.5);
  });

  it('gives no bound for work that used no CPU, and nothing per unit for no units', () => {
    const idle = cpuDelta(snapshot(0, 0, [], undefined), snapshot(1_000, 0, [], undefined));
    const budget = cpuBudget(idle, 'order', 10, 2);
    expect(budget.maxUnitsPerSecond).toBeUndefined();
    expect(budget.maxUnitsPerSecondDynamodbLocalAlone).toBeUndefined();
    expect(cpuBudget(delta, 'order', 0, 2).cpuSecondsPerUnit.total).toBe(0);
  });
});

describe('benchCpu and formatCpu', () => {
  const first = snapshot(0, 0, [thread(500, 'MainThread', 0), thread(501, 'lambda:order-ev', 0)], 0);
  const second = snapshot(
    60_000,
    6_000,
    [thread(500, 'MainThread', 1_500), thread(501, 'lambda:order-ev', 4_500)],
    4_000,
    11_000,
  );
  const third = snapshot(70_000, 6_100, second.threads, 5_800, 13_000);

  it('says the CPU was not measured where a snapshot is missing', () => {
    const phases = {
      lifecycle: { before: undefined, after: second, units: 300 },
      ceiling: { before: second, after: third, units: 12_000 },
    };
    const cpu = benchCpu(phases, FUNCTIONS, 2);
    expect(cpu).toBeUndefined();
    expect(formatCpu(cpu)).toEqual(['CPU                    not measured on this platform (no /proc)']);
  });

  it('reports per order and per ceiling write, with the bounds', () => {
    const cpu = benchCpu(
      {
        lifecycle: { before: first, after: second, units: 300 },
        ceiling: { before: second, after: third, units: 12_000 },
      },
      FUNCTIONS,
      2,
    );
    if (cpu === undefined) throw new Error('both phases have their snapshots');
    expect(cpu.lifecycle.unit).toBe('order');
    expect(cpu.ceiling.unit).toBe('conditional write');
    // 100 s of CPU for 300 orders on 2 cores; the JVM's 40 s of it alone would allow 15 orders/s.
    expect(cpu.lifecycle.maxUnitsPerSecond).toBeCloseTo(6);
    expect(cpu.lifecycle.maxUnitsPerSecondDynamodbLocalAlone).toBeCloseTo(15);
    // 18 s of JVM for 12,000 writes.
    expect(cpu.ceiling.cpuSecondsPerUnit.dynamodbLocal).toBeCloseTo(0.0015);
    expect(cpu.ceiling.maxUnitsPerSecondDynamodbLocalAlone).toBeCloseTo(2 / 0.0015);
    expect(formatCpu(cpu)).toEqual([
      'CPU per order          0.333 s: DynamoDB Local 0.133, functions 0.150, V8 GC/JIT 0.000, main thread 0.050, ' +
        'libuv 0.000, other 0.000 (1.67 of 2 cores busy over 60.0 s, whole machine 1.83)',
      'functions, ms/order    order-events-consumer 150',
      'CPU bound              6.0 orders/s if all 2 cores did only this, 15.0 orders/s from DynamoDB Local alone',
      'ceiling CPU            DynamoDB Local 1.50 ms/write, all 1.58 ms/write (1.90 of 2 cores busy over 10.0 s, whole machine 2.00): ' +
        'bound 1333 writes/s from DynamoDB Local alone, 1263 with its client',
    ]);
  });
});
