import {
  type AppModel,
  type FunctionDeclaration,
  settingNames,
  type TimerDeclaration,
  webhookRoutes,
} from './model';
import { secretArnVariable } from './naming';

/**
 * Lambda's guidance for SQS event sources: a visibility timeout of at least six times the function timeout,
 * so that a message is not handed to a second consumer while the first invocation (and its retries of the
 * batch) may still be running.
 */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** What EventBridge Scheduler accepts in a `RetryPolicy` and as a schedule group name. */
export const SCHEDULER_LIMITS = {
  maximumRetryAttempts: { min: 0, max: 185 },
  maximumEventAgeSeconds: { min: 60, max: 86_400 },
  groupName: /^[0-9a-zA-Z._-]{1,64}$/,
} as const;

/**
 * What EventBridge accepts as the name of a custom bus: 1-256 letters, digits, `.`, `-` and `_` (the API's
 * pattern also allows `/`, but only in partner bus names), and not `default`, the account's own bus.
 */
export const EVENT_BUS_NAME = /^[.\-_A-Za-z0-9]{1,256}$/;

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
  const timers = new Map(model.timers.map((timer) => [timer.name, timer]));
  const secrets = new Set(model.secrets.map((secret) => secret.name));
  const eventBuses = new Set(model.eventBuses.map((bus) => bus.name));
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
  for (const { table, indexes } of fn.access.tables ?? []) {
    const declared = tables.get(table);
    if (declared === undefined) {
      problems.push(`${where} is granted access to undeclared table '${table}'`);
      continue;
    }
    for (const index of indexes ?? []) {
      if (!(declared.indexes ?? []).some((candidate) => candidate.name === index)) {
        problems.push(`${where} is granted access to undeclared index '${index}' of table '${table}'`);
      }
    }
  }
  for (const { queue } of fn.access.queues ?? []) {
    if (!queues.has(queue)) problems.push(`${where} is granted access to undeclared queue '${queue}'`);
  }
  for (const { timer } of fn.access.timers ?? []) {
    if (!timers.has(timer)) problems.push(`${where} is granted access to undeclared timer '${timer}'`);
  }
  for (const { eventBus } of fn.access.eventBuses ?? []) {
    if (!eventBuses.has(eventBus)) {
      problems.push(`${where} is granted access to undeclared event bus '${eventBus}'`);
    }
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
    if ('eventBusName' in value && !eventBuses.has(value.eventBusName)) {
      problems.push(`${where} environment ${variable} names undeclared event bus '${value.eventBusName}'`);
    }
    if ('timer' in value) {
      const timer = timers.get(value.timer);
      if (timer === undefined) {
        problems.push(`${where} environment ${variable} names undeclared timer '${value.timer}'`);
      } else if (value.part === 'targetArn' && timer.targetFunction === fn.name) {
        problems.push(
          `${where} environment ${variable} holds its own ARN (it is the target of timer '${timer.name}'): ` +
            'CloudFormation cannot create a function whose environment refers to the function',
        );
      }
    }
    if ('secret' in value) {
      if (!secrets.has(value.secret)) {
        problems.push(`${where} environment ${variable} names undeclared secret '${value.secret}'`);
      }
      const arnVariable = secretArnVariable(variable);
      if (arnVariable in fn.environment) {
        problems.push(
          `${where} environment ${variable} names a secret, which becomes ${arnVariable} in AWS, but ` +
            `${arnVariable} is declared too`,
        );
      }
    }
  }
  return problems;
}

function eventBusNameProblems(model: AppModel): string[] {
  return model.eventBuses.flatMap(({ name }) => {
    if (name === 'default') return [`event bus 'default' is the account's own bus; a stack cannot create it`];
    if (!EVENT_BUS_NAME.test(name)) {
      return [`event bus '${name}' is not a valid custom bus name (1-256 letters, digits, '.', '-' or '_')`];
    }
    return [];
  });
}

function timerProblems(model: AppModel, timer: TimerDeclaration): string[] {
  const problems: string[] = [];
  const where = `timer '${timer.name}'`;
  const { maximumRetryAttempts: retries, maximumEventAgeSeconds: age, groupName } = SCHEDULER_LIMITS;
  if (!model.functions.some((fn) => fn.name === timer.targetFunction)) {
    problems.push(`${where} targets undeclared function '${timer.targetFunction}'`);
  }
  if (!groupName.test(timer.name)) {
    problems.push(`${where} is not a valid schedule group name (1-64 letters, digits, '.', '_' or '-')`);
  }
  if (
    !Number.isInteger(timer.maximumRetryAttempts) ||
    timer.maximumRetryAttempts < retries.min ||
    timer.maximumRetryAttempts > retries.max
  ) {
    problems.push(
      `${where} has maximumRetryAttempts ${timer.maximumRetryAttempts}; Scheduler accepts ${retries.min}-${retries.max}`,
    );
  }
  if (
    !Number.isInteger(timer.maximumEventAgeSeconds) ||
    timer.maximumEventAgeSeconds < age.min ||
    timer.maximumEventAgeSeconds > age.max
  ) {
    problems.push(
      `${where} has maximumEventAgeSeconds ${timer.maximumEventAgeSeconds}; Scheduler accepts ${age.min}-${age.max}`,
    );
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

/** Each outside party once, at a declared URL setting, with declared secrets and one route for its webhooks. */
function outsidePartyProblems(model: AppModel): string[] {
  const settings = new Set(settingNames(model));
  const secrets = new Set(model.secrets.map((secret) => secret.name));
  const problems = duplicates(model.outsideParties.map((party) => party.kind)).map(
    (kind) => `outside party '${kind}' is declared more than once`,
  );
  for (const party of model.outsideParties) {
    const where = `outside party '${party.kind}'`;
    if (!settings.has(party.urlSetting)) {
      problems.push(`${where} has its URL in setting '${party.urlSetting}', which no function reads`);
    }
    for (const secret of [party.apiKeySecret, party.webhookSecret]) {
      if (secret !== undefined && !secrets.has(secret))
        problems.push(`${where} uses undeclared secret '${secret}'`);
    }
    if (party.webhookSecret !== undefined && webhookRoutes(model, party.webhookSecret).length !== 1) {
      problems.push(`${where} needs exactly one HTTP route whose function holds '${party.webhookSecret}'`);
    }
  }
  return problems;
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
    ['timer', model.timers],
    ['secret', model.secrets],
    ['event bus', model.eventBuses],
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
  problems.push(...queueNameProblems(model), ...eventBusNameProblems(model), ...outsidePartyProblems(model));
  for (const timer of model.timers) problems.push(...timerProblems(model, timer));
  // The target's failed asynchronous invocations go to its timer's dead-letter queue; a function has one such config.
  const targets = model.timers.map((timer) => timer.targetFunction);
  for (const target of duplicates(targets)) {
    problems.push(
      `function '${target}' is the target of more than one timer; its failed invocations can go to only one ` +
        'dead-letter queue',
    );
  }
  for (const fn of model.functions) {
    problems.push(...referenceProblems(model, fn), ...visibilityTimeoutProblems(model, fn));
    if (fn.triggers.filter((trigger) => trigger.type === 'schedule').length > 1) {
      problems.push(`function '${fn.name}' has more than one schedule; one job, one schedule`);
    }
  }
  if (problems.length > 0) throw new InvalidModelError(problems);
}
