import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { functionArnKeysIn, functionArnSubstitutionKey } from '../../lib/constructs/asl-substitutions';
import { assertDeployableModel, VISIBILITY_TIMEOUT_FACTOR } from '../../lib/constructs/model-checks';
import { appModel, withMaxReceiveCount } from '../../lib/model';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

function repeated(names: readonly string[]): string[] {
  return names.filter((name, index) => names.indexOf(name) !== index);
}

describe('lib/model.ts', () => {
  it('declares each function, table, queue, state machine, timer, secret and event bus name once', () => {
    // Prepare
    const { functions, tables, queues, stateMachines, timers, secrets, eventBuses } = appModel;

    // Act
    const duplicates = {
      functions: repeated(functions.map((fn) => fn.name)),
      tables: repeated(tables.map((table) => table.name)),
      queues: repeated(queues.map((queue) => queue.name)),
      stateMachines: repeated(stateMachines.map((machine) => machine.name)),
      timers: repeated(timers.map((timer) => timer.name)),
      secrets: repeated(secrets.map((secret) => secret.name)),
      eventBuses: repeated(eventBuses.map((bus) => bus.name)),
    };

    // Assess
    expect(functions.length).toBeGreaterThan(0);
    expect(duplicates).toEqual({
      functions: [],
      tables: [],
      queues: [],
      stateMachines: [],
      timers: [],
      secrets: [],
      eventBuses: [],
    });
  });

  it('points every function at an existing handler file', () => {
    // Prepare
    const entries = appModel.functions.map((fn) => fn.entry);

    // Act
    const missing = entries.filter((entry) => !existsSync(path.resolve(REPOSITORY_ROOT, entry)));

    // Assess
    expect(entries.length).toBeGreaterThan(0);
    expect(missing).toEqual([]);
  });

  it('triggers functions only from declared queues and from tables that declare a stream', () => {
    // Prepare
    const queues = new Set(appModel.queues.map((queue) => queue.name));
    const streamTables = new Set(appModel.tables.filter((table) => table.stream).map((table) => table.name));

    // Act
    const dangling = appModel.functions.flatMap((fn) =>
      fn.triggers.flatMap((trigger) => {
        if (trigger.type === 'queue' && !queues.has(trigger.queue))
          return [`${fn.name} <- queue ${trigger.queue}`];
        if (trigger.type === 'stream' && !streamTables.has(trigger.table)) {
          return [`${fn.name} <- stream of ${trigger.table}`];
        }
        return [];
      }),
    );

    // Assess
    expect(dangling).toEqual([]);
  });

  it('names only declared tables, queues, state machines, timers, secrets and buses in grants and environments', () => {
    // Prepare
    const tables = new Set(appModel.tables.map((table) => table.name));
    const queues = new Set(appModel.queues.map((queue) => queue.name));
    const machines = new Set(appModel.stateMachines.map((machine) => machine.name));
    const timers = new Set(appModel.timers.map((timer) => timer.name));
    const secrets = new Set(appModel.secrets.map((secret) => secret.name));
    const buses = new Set(appModel.eventBuses.map((bus) => bus.name));

    // Act
    const dangling = appModel.functions.flatMap((fn) => [
      ...(fn.access.tables ?? [])
        .filter(({ table }) => !tables.has(table))
        .map(({ table }) => `${fn.name}: ${table}`),
      ...(fn.access.queues ?? [])
        .filter(({ queue }) => !queues.has(queue))
        .map(({ queue }) => `${fn.name}: ${queue}`),
      ...(fn.access.timers ?? [])
        .filter(({ timer }) => !timers.has(timer))
        .map(({ timer }) => `${fn.name}: ${timer}`),
      ...(fn.access.eventBuses ?? [])
        .filter(({ eventBus }) => !buses.has(eventBus))
        .map(({ eventBus }) => `${fn.name}: ${eventBus}`),
      ...Object.entries(fn.environment).flatMap(([variable, value]) => {
        if ('tableName' in value && !tables.has(value.tableName)) return [`${fn.name}.${variable}`];
        if ('queueUrl' in value && !queues.has(value.queueUrl)) return [`${fn.name}.${variable}`];
        if ('stateMachineArn' in value && !machines.has(value.stateMachineArn))
          return [`${fn.name}.${variable}`];
        if ('timer' in value && !timers.has(value.timer)) return [`${fn.name}.${variable}`];
        if ('secret' in value && !secrets.has(value.secret)) return [`${fn.name}.${variable}`];
        if ('eventBusName' in value && !buses.has(value.eventBusName)) return [`${fn.name}.${variable}`];
        return [];
      }),
    ]);

    // Assess
    expect(dangling).toEqual([]);
  });

  it('aims every timer at a declared function that nothing else triggers', () => {
    // Prepare
    const functions = new Map(appModel.functions.map((fn) => [fn.name, fn]));

    // Act
    const targets = appModel.timers.map((timer) => ({
      timer: timer.name,
      triggers: functions.get(timer.targetFunction)?.triggers ?? 'undeclared',
    }));

    // Assess
    expect(targets).toEqual(appModel.timers.map((timer) => ({ timer: timer.name, triggers: [] })));
  });

  it('declares every secret it uses, and uses every secret it declares', () => {
    // Prepare
    const declared = appModel.secrets.map((secret) => secret.name).sort();

    // Act
    const used = new Set(
      appModel.functions.flatMap((fn) =>
        Object.values(fn.environment).flatMap((value) => ('secret' in value ? [value.secret] : [])),
      ),
    );

    // Assess
    expect([...used].sort()).toEqual(declared);
  });

  it('declares each HTTP route (method and path) once', () => {
    // Prepare
    const routes = appModel.functions.flatMap((fn) =>
      fn.triggers.flatMap((trigger) =>
        trigger.type === 'http' ? [`${trigger.method} ${trigger.path}`] : [],
      ),
    );

    // Act
    const duplicates = repeated(routes);

    // Assess
    expect(routes.length).toBeGreaterThan(0);
    expect(duplicates).toEqual([]);
  });

  it('gives every queue a visibility timeout of at least six times the timeout of each function it triggers', () => {
    // Prepare
    const queues = new Map(appModel.queues.map((queue) => [queue.name, queue]));

    // Act
    const tooShort = appModel.functions.flatMap((fn) =>
      fn.triggers.flatMap((trigger) => {
        const queue = trigger.type === 'queue' ? queues.get(trigger.queue) : undefined;
        return queue !== undefined &&
          queue.visibilityTimeoutSeconds < VISIBILITY_TIMEOUT_FACTOR * fn.timeoutSeconds
          ? [`${queue.name} -> ${fn.name}`]
          : [];
      }),
    );

    // Assess
    expect(tooShort).toEqual([]);
  });

  it('points every state machine at an existing ASL file whose function placeholders name declared functions', () => {
    // Prepare
    const declaredKeys = new Set(appModel.functions.map((fn) => functionArnSubstitutionKey(fn.name)));

    // Act
    const problems = appModel.stateMachines.flatMap((machine) => {
      const file = path.resolve(REPOSITORY_ROOT, machine.definition);
      if (!existsSync(file)) return [`${machine.name}: ${machine.definition} does not exist`];
      return functionArnKeysIn(readFileSync(file, 'utf8'))
        .filter((key) => !declaredKeys.has(key))
        .map((key) => `${machine.name}: \${${key}} names no declared function`);
    });

    // Assess
    expect(problems).toEqual([]);
  });

  it('passes every check the CDK stack makes before it builds anything', () => {
    // Prepare
    const model = appModel;

    // Act
    const check = () => assertDeployableModel(model);

    // Assess
    expect(check).not.toThrow();
  });
});

describe('withMaxReceiveCount', () => {
  it('replaces every queue maxReceiveCount and refuses values SQS would refuse', () => {
    const changed = withMaxReceiveCount(appModel, 3);

    expect(changed.queues.map((queue) => queue.maxReceiveCount)).toEqual(appModel.queues.map(() => 3));
    expect(withMaxReceiveCount(appModel, undefined)).toBe(appModel);
    expect(() => withMaxReceiveCount(appModel, 0)).toThrow(/from 1 to 1000/);
    expect(() => withMaxReceiveCount(appModel, 2.5)).toThrow(/from 1 to 1000/);
  });
});
