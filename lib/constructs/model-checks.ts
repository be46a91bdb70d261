import type { AppModel, FunctionDeclaration } from '../model';

/**
 * Lambda's guidance for SQS event sources: a visibility timeout of at least six times the function timeout,
 * so that a message is not handed to a second consumer while the first invocation (and its retries of the
 * batch) may still be running.
 */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** Every rule the model breaks, listed at once so one synth shows all of them. */
export class InvalidModelError extends Error {
  public override readonly name = 'InvalidModelError';
  public readonly problems: readonly string[];

  public constructor(problems: readonly string[]) {
    super(`The app model cannot be deployed:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.problems = problems;
  }
}

function duplicates(names: readonly string[]): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) repeated.add(name);
    seen.add(name);
  }
  return [...repeated];
}

function referenceProblems(model: AppModel, fn: FunctionDeclaration): string[] {
  const tables = new Map(model.tables.map((table) => [table.name, table]));
  const queues = new Set(model.queues.map((queue) => queue.name));
  const stateMachines = new Set(model.stateMachines.map((machine) => machine.name));
  const problems: string[] = [];
  const where = `function '${fn.name}'`;

  for (const trigger of fn.triggers) {
    if (trigger.type === 'queue' && !queues.has(trigger.queue)) {
      problems.push(`${where} is triggered by undeclared queue '${trigger.queue}'`);
    }
    if (trigger.type === 'stream') {
      const table = tables.get(trigger.table);
      if (table === undefined) problems.push(`${where} is triggered by undeclared table '${trigger.table}'`);
      else if (table.stream === undefined) {
        problems.push(
          `${where} is triggered by the stream of table '${trigger.table}', which declares no stream`,
        );
      }
    }
  }
  for (const { table } of fn.access.tables ?? []) {
    if (!tables.has(table)) problems.push(`${where} is granted access to undeclared table '${table}'`);
  }
  for (const { queue } of fn.access.queues ?? []) {
    if (!queues.has(queue)) problems.push(`${where} is granted access to undeclared queue '${queue}'`);
  }
  for (const [variable, value] of Object.entries(fn.environment)) {
    if ('tableName' in value && !tables.has(value.tableName)) {
      problems.push(`${where} environment ${variable} names undeclared table '${value.tableName}'`);
    }
    if ('queueUrl' in value && !queues.has(value.queueUrl)) {
      problems.push(`${where} environment ${variable} names undeclared queue '${value.queueUrl}'`);
    }
    if ('stateMachineArn' in value && !stateMachines.has(value.stateMachineArn)) {
      problems.push(
        `${where} environment ${variable} names undeclared state machine '${value.stateMachineArn}'`,
      );
    }
  }
  return problems;
}

function visibilityTimeoutProblems(model: AppModel, fn: FunctionDeclaration): string[] {
  const problems: string[] = [];
  for (const trigger of fn.triggers) {
    if (trigger.type !== 'queue') continue;
    const queue = model.queues.find((candidate) => candidate.name === trigger.queue);
    if (queue === undefined) continue;
    const minimum = VISIBILITY_TIMEOUT_FACTOR * fn.timeoutSeconds;
    if (queue.visibilityTimeoutSeconds < minimum) {
      problems.push(
        `queue '${queue.name}' has a visibility timeout of ${queue.visibilityTimeoutSeconds}s, but it triggers ` +
          `function '${fn.name}' (timeout ${fn.timeoutSeconds}s), so it needs at least ` +
          `${VISIBILITY_TIMEOUT_FACTOR} x ${fn.timeoutSeconds}s = ${minimum}s`,
      );
    }
  }
  return problems;
}

function queueNameProblems(model: AppModel): string[] {
  return model.queues
    .filter((queue) => !queue.fifo && queue.name.endsWith('.fifo'))
    .map((queue) => `queue '${queue.name}' ends in '.fifo' but is not declared fifo`);
}

/**
 * Checks the rules that CloudFormation or Lambda would otherwise reject only at deploy time, or never (a
 * visibility timeout that is too short silently duplicates work). Throws {@link InvalidModelError}.
 */
export function assertDeployableModel(model: AppModel): void {
  const problems: string[] = [];
  const kinds = [
    ['table', model.tables],
    ['queue', model.queues],
    ['function', model.functions],
    ['state machine', model.stateMachines],
  ] as const;
  for (const [kind, declarations] of kinds) {
    for (const name of duplicates(declarations.map((declaration) => declaration.name))) {
      problems.push(`${kind} '${name}' is declared more than once`);
    }
  }
  const routes = model.functions.flatMap((fn) =>
    fn.triggers.flatMap((trigger) => (trigger.type === 'http' ? [`${trigger.method} ${trigger.path}`] : [])),
  );
  for (const route of duplicates(routes)) problems.push(`route '${route}' is declared more than once`);
  problems.push(...queueNameProblems(model));
  for (const fn of model.functions) {
    problems.push(...referenceProblems(model, fn), ...visibilityTimeoutProblems(model, fn));
    if (fn.triggers.filter((trigger) => trigger.type === 'schedule').length > 1) {
      problems.push(`function '${fn.name}' has more than one schedule; one job, one schedule`);
    }
  }
  if (problems.length > 0) throw new InvalidModelError(problems);
}
