import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type ConfigSection,
  configSections,
  FUNCTION_CONFIG,
  loadConfig,
  secretSource,
} from '../../functions/config';
import { functionArnKeysIn, functionArnSubstitutionKey } from '../../lib/asl-substitutions';
import {
  type AppModel,
  appModel,
  type EnvironmentValue,
  type FunctionDeclaration,
  SETTING_DEFAULTS,
  withMaxReceiveCount,
} from '../../lib/model';
import { assertDeployableModel, VISIBILITY_TIMEOUT_FACTOR } from '../../lib/model-checks';
import { emptyModel } from '../fixtures/cdk/fixture-model';

const REPOSITORY_ROOT = fileURLToPath(new URL('../..', import.meta.url));

function repeated(names: readonly string[]): string[] {
  return names.filter((name, index) => names.indexOf(name) !== index);
}

describe('lib/model.ts', () => {
  it('declares each function, table, queue, state machine, timer, secret, event bus and outside party once', () => {
    // Prepare
    const { functions, tables, queues, stateMachines, timers, secrets, eventBuses, outsideParties } =
      appModel;

    // Act
    const duplicates = {
      functions: repeated(functions.map((fn) => fn.name)),
      tables: repeated(tables.map((table) => table.name)),
      queues: repeated(queues.map((queue) => queue.name)),
      stateMachines: repeated(stateMachines.map((machine) => machine.name)),
      timers: repeated(timers.map((timer) => timer.name)),
      secrets: repeated(secrets.map((secret) => secret.name)),
      eventBuses: repeated(eventBuses.map((bus) => bus.name)),
      outsideParties: repeated(outsideParties.map((party) => party.kind)),
    };

    // Assess
    expect(functions.length).toBeGreaterThan(0);
    // Every kind of declaration, none with a repeated name.
    expect(duplicates).toEqual(emptyModel);
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

/**
 * A representative value for each declared variable, of the kind the stack (`form: 'aws'`) or the local runtime
 * (`'local'`) gives it: a secret is `<KEY>_ARN` in AWS and `<KEY>` locally, a setting takes its default.
 */
function declaredEnvironment(
  model: AppModel,
  declaration: FunctionDeclaration,
  form: 'aws' | 'local',
): Record<string, string> {
  const represent = (value: EnvironmentValue): string => {
    if ('literal' in value) return value.literal;
    if ('setting' in value) return value.default;
    if ('tableName' in value) return value.tableName;
    if ('queueUrl' in value) return `https://sqs.eu-west-1.amazonaws.com/123456789012/${value.queueUrl}`;
    if ('stateMachineArn' in value) {
      return `arn:aws:states:eu-west-1:123456789012:stateMachine:${value.stateMachineArn}`;
    }
    if ('eventBusName' in value) return value.eventBusName;
    if ('secret' in value) return `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${value.secret}`;
    const timer = model.timers.find((declared) => declared.name === value.timer);
    if (value.part === 'maximumRetryAttempts') return String(timer?.maximumRetryAttempts);
    if (value.part === 'maximumEventAgeSeconds') return String(timer?.maximumEventAgeSeconds);
    return `arn:aws:scheduler:eu-west-1:123456789012:${value.part}/${value.timer}`;
  };
  return Object.fromEntries(
    Object.entries(declaration.environment).map(([key, value]) => [
      'secret' in value && form === 'aws' ? `${key}_ARN` : key,
      represent(value),
    ]),
  );
}

/** What a function's code loads that its declared environment does not give it, one line per problem. */
function configurationProblems(
  model: AppModel,
  declaration: FunctionDeclaration,
  needs: { readonly sections: readonly ConfigSection[]; readonly secrets: readonly string[] },
): string[] {
  return (['aws', 'local'] as const).flatMap((form) => {
    const environment = declaredEnvironment(model, declaration, form);
    const attempts = [
      ...needs.sections.map((section) => () => loadConfig(section, environment)),
      ...needs.secrets.map((secret) => () => secretSource(secret, environment)),
    ];
    return attempts.flatMap((attempt) => {
      try {
        attempt();
        return [];
      } catch (error) {
        return [`${declaration.name} (${form}): ${error instanceof Error ? error.message : String(error)}`];
      }
    });
  });
}

function needsOf(name: string) {
  return FUNCTION_CONFIG[name as keyof typeof FUNCTION_CONFIG];
}

describe("each function's declared environment", () => {
  it('lists the configuration of every declared function, and of no other', () => {
    // Prepare
    const declared = appModel.functions.map((declaration) => declaration.name).sort();

    // Act
    const configured = Object.keys(FUNCTION_CONFIG).sort();

    // Assess
    expect(configured).toEqual(declared);
  });

  it('satisfies every configuration section and secret its code loads, in AWS and locally', () => {
    // Prepare
    const functions = appModel.functions;

    // Act
    const problems = functions.flatMap((declaration) =>
      configurationProblems(appModel, declaration, needsOf(declaration.name)),
    );

    // Assess
    expect(functions.length).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  it('declares nothing its code does not read', () => {
    // Prepare
    const functions = appModel.functions;

    // Act
    const unread = functions.flatMap((declaration) => {
      const needs = needsOf(declaration.name);
      const read = new Set<string>([
        ...needs.sections.flatMap((section) => Object.keys(configSections[section].shape)),
        ...needs.secrets,
      ]);
      return Object.keys(declaration.environment)
        .filter((key) => !read.has(key))
        .map((key) => `${declaration.name}: ${key}`);
    });

    // Assess
    expect(unread).toEqual([]);
  });

  it('fails a declaration that lacks a variable or a secret its code needs', () => {
    // Prepare
    const declaration = (name: string) => {
      const found = appModel.functions.find((candidate) => candidate.name === name);
      if (found === undefined) throw new Error(`no function ${name}`);
      return found;
    };
    const createOrder = declaration('create-order');
    const logisticsWebhook = declaration('logistics-webhook');
    const { PAYMENT_TIMEOUT_GROUP_NAME: _group, ...withoutTimerGroup } = createOrder.environment;
    const { LOGISTICS_WEBHOOK_SECRET: _secret, ...withoutSecret } = logisticsWebhook.environment;

    // Act
    const timerProblems = configurationProblems(
      appModel,
      { ...createOrder, environment: withoutTimerGroup },
      needsOf('create-order'),
    );
    const secretProblems = configurationProblems(
      appModel,
      { ...logisticsWebhook, environment: withoutSecret },
      needsOf('logistics-webhook'),
    );

    // Assess
    expect(timerProblems).toEqual([
      expect.stringMatching(/^create-order \(aws\): .*paymentTimeoutGroup.*PAYMENT_TIMEOUT_GROUP_NAME/),
      expect.stringMatching(/^create-order \(local\): .*paymentTimeoutGroup.*PAYMENT_TIMEOUT_GROUP_NAME/),
    ]);
    expect(secretProblems).toEqual([
      expect.stringMatching(/^logistics-webhook \(aws\): .*LOGISTICS_WEBHOOK_SECRET/),
      expect.stringMatching(/^logistics-webhook \(local\): .*LOGISTICS_WEBHOOK_SECRET/),
    ]);
  });

  it('gives a function with no value for a tuning setting the default the model declares', () => {
    // Prepare
    const environment = { ORDERS_TABLE_NAME: 'orders', PAYMENT_PROVIDER_URL: 'https://api.stripe.com' };

    // Act
    const orders = loadConfig('orders', environment);
    const lease = loadConfig('paymentLease', environment);
    const sweeper = loadConfig('sweeper', environment);
    const checkBack = loadConfig('paymentCheckBack', environment);
    const reconciliation = loadConfig('reconciliation', environment);
    const { PAYMENT_METHOD_TYPES } = loadConfig('paymentProvider', environment);

    // Assess
    expect({
      ...orders,
      ...lease,
      ...sweeper,
      ...checkBack,
      ...reconciliation,
      // Read as a list: the default is the empty one.
      PAYMENT_METHOD_TYPES: PAYMENT_METHOD_TYPES.join(','),
    }).toEqual({
      ORDERS_TABLE_NAME: 'orders',
      ...SETTING_DEFAULTS,
    });
  });
});
