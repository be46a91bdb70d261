import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/**
 * Where the CPU of a local run goes, read from Linux's /proc: DynamoDB Local's JVM (a child process) and the
 * threads of this Node process by kind. The local system is CPU-bound, so these numbers say what bounds its
 * throughput; a JavaScript profiler sees one isolate, neither V8's GC threads nor the JVM.
 */

export class CpuMeasurementError extends Error {
  public override readonly name = 'CpuMeasurementError';
  public readonly code = 'CPU_MEASUREMENT_FAILED';
}

/** The fields of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat line that we use. */
export interface ProcStat {
  readonly comm: string;
  /** utime + stime, in clock ticks. */
  readonly cpuTicks: number;
  /** Ticks after boot at which the thread started: with the tid, it tells a reused tid from the same thread. */
  readonly startTicks: number;
}

/**
 * The comm is in parentheses and may itself hold spaces and parentheses (`(a) b)`), so the numeric fields are
 * the ones after the last `)`. Fields are numbered from 1 in proc(5): state is 3, utime 14, stime 15,
 * starttime 22.
 */
export function parseProcStat(line: string): ProcStat {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) throw new CpuMeasurementError(`not a /proc stat line: ${line.slice(0, 80)}`);
  const fields = line
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (number: number): number => {
    const value = Number(fields[number - 3]);
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new CpuMeasurementError(
        `field ${number} of a /proc stat line is not a count: ${line.slice(0, 80)}`,
      );
    }
    return value;
  };
  return {
    comm: line.slice(open + 1, close),
    cpuTicks: field(14) + field(15),
    startTicks: field(22),
  };
}

/**
 * The first line of /proc/stat sums every core's ticks by state: user nice system idle iowait irq softirq
 * steal (guest time is already inside user and nice). All but idle and iowait were unavailable to us, steal
 * (the hypervisor running someone else) included.
 */
export function parseMachineBusyTicks(procStat: string): number {
  const fields = procStat.split('\n', 1)[0]?.trim().split(/\s+/) ?? [];
  const counts = fields.slice(1, 9).map(Number);
  if (fields[0] !== 'cpu' || counts.length < 8 || !counts.every((count) => Number.isSafeInteger(count))) {
    throw new CpuMeasurementError(`not the first line of /proc/stat: ${procStat.slice(0, 80)}`);
  }
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = counts;
  return user + nice + system + irq + softirq + steal;
}

export interface ThreadSample extends ProcStat {
  readonly tid: number;
}

export interface CpuSnapshot {
  readonly takenAtMs: number;
  readonly clockTicksPerSecond: number;
  readonly pid: number;
  /** The whole process, threads that have exited included (the kernel adds their time to it). */
  readonly processTicks: number;
  readonly threads: readonly ThreadSample[];
  /** DynamoDB Local's JVM, all its threads, when its pid was given. */
  readonly dynamodbLocalTicks: number | undefined;
  /** Every process on the machine, ours included. */
  readonly machineBusyTicks: number;
}

export type ThreadGroup = 'functions' | 'v8Platform' | 'libuvPool' | 'mainThread' | 'otherThreads';

/**
 * Node names its threads: `V8Worker` and `DelayedTaskSche(duler)` run V8's garbage collection and compilation
 * tasks, `libuv-worker` the thread pool (file system, DNS, crypto), and the function host names each worker
 * `lambda:<function>`. The main thread is the one whose tid is the pid, whatever its name.
 */
export function threadGroup(thread: Pick<ThreadSample, 'tid' | 'comm'>, pid: number): ThreadGroup {
  if (thread.tid === pid) return 'mainThread';
  if (thread.comm.startsWith('lambda:')) return 'functions';
  if (thread.comm === 'V8Worker' || thread.comm === 'DelayedTaskSche') return 'v8Platform';
  if (thread.comm === 'libuv-worker') return 'libuvPool';
  return 'otherThreads';
}

/**
 * Linux cuts thread names to 15 characters (`lambda:fulfillm`); the declared function whose name cuts to the
 * same is the one meant. When several do, the cut name with a `*` (`fulfillm*`) stands for all of them.
 */
export function functionOfThread(comm: string, functionNames: readonly string[]): string {
  const matches = functionNames.filter((name) => `lambda:${name}`.slice(0, 15) === comm);
  const [only] = matches;
  if (matches.length === 1 && only !== undefined) return only;
  const cut = comm.slice('lambda:'.length);
  return matches.length > 1 ? `${cut}*` : cut;
}

/** CPU seconds used between two snapshots, by component. */
export interface CpuSeconds {
  readonly total: number;
  readonly dynamodbLocal: number;
  /** The whole Node process: the sum of the thread groups below. */
  readonly node: number;
  readonly functions: number;
  readonly v8Platform: number;
  readonly libuvPool: number;
  /** The stand-ins (gateway, Step Functions, SQS, Scheduler, EventBridge), the runners and the simulator. */
  readonly mainThread: number;
  readonly otherThreads: number;
  /** Threads that ended between the snapshots (a replaced function worker, say). */
  readonly exitedThreads: number;
  /** The function workers' seconds per function. */
  readonly byFunction: Readonly<Record<string, number>>;
}

export interface CpuDelta {
  readonly wallSeconds: number;
  readonly seconds: CpuSeconds;
  /** CPU seconds the whole machine was busy: more than ours means other processes competed for the cores. */
  readonly machineBusySeconds: number;
}

/** What happened between `before` and `after`; a thread that started in between counts from zero. */
export function cpuDelta(
  before: CpuSnapshot,
  after: CpuSnapshot,
  functionNames: readonly string[] = [],
): CpuDelta {
  const perSecond = after.clockTicksPerSecond;
  const earlier = new Map(before.threads.map((thread) => [`${thread.tid}@${thread.startTicks}`, thread]));
  const groups: Record<ThreadGroup, number> = {
    functions: 0,
    v8Platform: 0,
    libuvPool: 0,
    mainThread: 0,
    otherThreads: 0,
  };
  const byFunction: Record<string, number> = {};
  let liveTicks = 0;
  for (const thread of after.threads) {
    const ticks = thread.cpuTicks - (earlier.get(`${thread.tid}@${thread.startTicks}`)?.cpuTicks ?? 0);
    liveTicks += ticks;
    const group = threadGroup(thread, after.pid);
    groups[group] += ticks / perSecond;
    if (group === 'functions') {
      const name = functionOfThread(thread.comm, functionNames);
      byFunction[name] = (byFunction[name] ?? 0) + ticks / perSecond;
    }
  }
  // The process and its threads are read moments apart, so the remainder can dip a tick below zero.
  const exitedThreads = Math.max(0, after.processTicks - before.processTicks - liveTicks) / perSecond;
  const dynamodbLocal =
    after.dynamodbLocalTicks === undefined || before.dynamodbLocalTicks === undefined
      ? 0
      : (after.dynamodbLocalTicks - before.dynamodbLocalTicks) / perSecond;
  const node = Object.values(groups).reduce((sum, seconds) => sum + seconds, 0) + exitedThreads;
  return {
    wallSeconds: (after.takenAtMs - before.takenAtMs) / 1000,
    machineBusySeconds: (after.machineBusyTicks - before.machineBusyTicks) / perSecond,
    seconds: { total: node + dynamodbLocal, dynamodbLocal, node, ...groups, exitedThreads, byFunction },
  };
}

/** A phase of work seen through its CPU: per unit (an order, a write) and what that allows on `cores`. */
export interface CpuBudget {
  readonly unit: string;
  readonly units: number;
  readonly wallSeconds: number;
  readonly cores: number;
  readonly cpuSeconds: CpuSeconds;
  readonly cpuSecondsPerUnit: CpuSeconds;
  /** CPU seconds per wall-clock second over the phase. */
  readonly averageCoresBusy: number;
  /** The same for every process on the machine, ours included. */
  readonly machineCoresBusy: number;
  /**
   * cores / total CPU seconds per unit: the rate if every core did only this work and nothing else ran.
   * Undefined, here and below, when the work used less than a clock tick of CPU there.
   */
  readonly maxUnitsPerSecond: number | undefined;
  /** cores / DynamoDB Local's CPU seconds per unit: the rate at which its JVM alone would fill the machine. */
  readonly maxUnitsPerSecondDynamodbLocalAlone: number | undefined;
}

function scaled(seconds: CpuSeconds, factor: number): CpuSeconds {
  return {
    total: seconds.total * factor,
    dynamodbLocal: seconds.dynamodbLocal * factor,
    node: seconds.node * factor,
    functions: seconds.functions * factor,
    v8Platform: seconds.v8Platform * factor,
    libuvPool: seconds.libuvPool * factor,
    mainThread: seconds.mainThread * factor,
    otherThreads: seconds.otherThreads * factor,
    exitedThreads: seconds.exitedThreads * factor,
    byFunction: Object.fromEntries(
      Object.entries(seconds.byFunction).map(([name, value]) => [name, value * factor]),
    ),
  };
}

export function cpuBudget(delta: CpuDelta, unit: string, units: number, cores: number): CpuBudget {
  const perUnit = scaled(delta.seconds, units === 0 ? 0 : 1 / units);
  const bound = (secondsPerUnit: number) => (secondsPerUnit > 0 ? cores / secondsPerUnit : undefined);
  return {
    unit,
    units,
    wallSeconds: delta.wallSeconds,
    cores,
    cpuSeconds: delta.seconds,
    cpuSecondsPerUnit: perUnit,
    averageCoresBusy: delta.wallSeconds > 0 ? delta.seconds.total / delta.wallSeconds : 0,
    machineCoresBusy: delta.wallSeconds > 0 ? delta.machineBusySeconds / delta.wallSeconds : 0,
    maxUnitsPerSecond: bound(perUnit.total),
    maxUnitsPerSecondDynamodbLocalAlone: bound(perUnit.dynamodbLocal),
  };
}

let clockTicksPerSecond: number | undefined;

/**
 * /proc counts in USER_HZ, which `getconf CLK_TCK` reports. Where getconf is missing, 100: USER_HZ is part of
 * Linux's user-space ABI and is 100 on every architecture Node runs on.
 */
function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    let answer = Number.NaN;
    try {
      answer = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      // Handled below, as an answer that is not a number.
    }
    clockTicksPerSecond = Number.isSafeInteger(answer) && answer > 0 ? answer : 100;
  }
  return clockTicksPerSecond;
}

/** Gone from /proc: the process or thread ended, or there is no /proc at all. */
function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

async function readStat(path: string): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(path, 'utf8'));
  } catch (error) {
    // A thread may end between the listing and the read; its time then shows in the process total.
    if (isMissing(error)) return undefined;
    throw error;
  }
}

async function readThreads(pid: number): Promise<ThreadSample[] | undefined> {
  let tids: string[];
  try {
    tids = await readdir(`/proc/${pid}/task`);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  const samples = await Promise.all(
    tids.map(async (tid) => {
      const stat = await readStat(`/proc/${pid}/task/${tid}/stat`);
      return stat === undefined ? undefined : { tid: Number(tid), ...stat };
    }),
  );
  return samples.filter((sample) => sample !== undefined);
}

/**
 * CPU used so far by this process's threads and, given its pid, DynamoDB Local. Undefined where there is no
 * /proc (macOS, Windows). Throws {@link CpuMeasurementError} when the given DynamoDB Local process is gone.
 */
export async function cpuSnapshot(
  options: { readonly dynamodbLocalPid?: number } = {},
): Promise<CpuSnapshot | undefined> {
  const pid = process.pid;
  const threads = await readThreads(pid);
  if (threads === undefined) return undefined;
  const { dynamodbLocalPid } = options;
  const dynamodbLocal =
    dynamodbLocalPid === undefined ? undefined : await readStat(`/proc/${dynamodbLocalPid}/stat`);
  if (dynamodbLocalPid !== undefined && dynamodbLocal === undefined) {
    throw new CpuMeasurementError(`DynamoDB Local (pid ${dynamodbLocalPid}) is not running`);
  }
  // Read last, so a thread that ends during the snapshot is in the total and shows as exited.
  const processStat = await readStat(`/proc/${pid}/stat`);
  if (processStat === undefined) throw new CpuMeasurementError(`/proc/${pid}/stat is missing`);
  const machineBusyTicks = parseMachineBusyTicks(await readFile('/proc/stat', 'utf8'));
  return {
    takenAtMs: performance.now(),
    clockTicksPerSecond: ticksPerSecond(),
    pid,
    processTicks: processStat.cpuTicks,
    threads,
    dynamodbLocalTicks: dynamodbLocal?.cpuTicks,
    machineBusyTicks,
  };
}
