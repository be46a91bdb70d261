import { describe, expect, it } from 'vitest';
import type { StateMachineDefinition } from '../../lib/console/backend';
import { layoutSagaGraph, sagaGraph, stateOutcomes } from '../../lib/console/saga-graph';
import type { SagaStep, SagaStory } from '../../lib/ops/order';
import { fulfillmentDefinition } from '../support/in-memory/console-backend';

const definition = fulfillmentDefinition();

function step(
  name: string,
  type: string,
  outcome: SagaStep['outcome'],
  overrides: Partial<SagaStep> = {},
): SagaStep {
  return {
    run: 0,
    name,
    type,
    compensation: false,
    enteredAt: '2026-12-07T12:00:00.000Z',
    exitedAt: outcome === 'succeeded' ? '2026-12-07T12:00:01.000Z' : undefined,
    attempts: type === 'Task' ? 1 : 0,
    failures: [],
    outcome,
    ...overrides,
  };
}

function saga(steps: readonly SagaStep[], overrides: Partial<SagaStory> = {}): SagaStory {
  return {
    executionName: 'fulfillment-o-1',
    executionArn: 'arn:aws:states:eu-west-1:000000000000:execution:fulfillment:fulfillment-o-1',
    status: 'FAILED',
    startedAt: '2026-12-07T12:00:00.000Z',
    stoppedAt: '2026-12-07T12:00:09.000Z',
    redriveCount: 0,
    redrivenAt: undefined,
    error: 'FulfillmentFailed',
    cause: 'compensated after WarehouseError: out of stock',
    steps,
    ...overrides,
  };
}

const warehouseFailed = saga([
  step('CreateFulfillmentOrder', 'Task', 'succeeded'),
  step('PickGoods', 'Task', 'failed', {
    attempts: 4,
    failures: [{ error: 'WarehouseError', cause: 'out of stock', at: '2026-12-07T12:00:05.000Z' }],
  }),
  step('ReturnGoods', 'Task', 'succeeded', { compensation: true }),
  step('CancelFulfillmentOrder', 'Task', 'succeeded', { compensation: true }),
  step('MarkFulfillmentFailed', 'Task', 'succeeded', { compensation: true }),
  step('Compensated', 'Pass', 'succeeded', { compensation: true }),
  step('FulfillmentFailed', 'Fail', 'failed', { compensation: true }),
]);

/** Each drawn state's name and outcome, in document order. */
function drawnStates(svg: string): Record<string, string> {
  return Object.fromEntries(
    [...svg.matchAll(/<g class="saga-state" data-state="([^"]*)" data-outcome="([^"]*)">/g)].map((match) => [
      match[1] ?? '',
      match[2] ?? '',
    ]),
  );
}

describe('layoutSagaGraph', () => {
  it('puts the happy path in the main column, by distance from StartAt', () => {
    // Act
    const { nodes } = layoutSagaGraph(definition);

    // Assess
    const main = nodes.filter((node) => !node.compensation).map((node) => [node.name, node.row, node.slot]);
    expect(main).toEqual([
      ['CreateFulfillmentOrder', 0, 0],
      ['PickGoods', 1, 0],
      ['ShipOut', 2, 0],
      ['MarkOrderFulfilled', 3, 0],
      ['Fulfilled', 4, 0],
    ]);
  });

  it('puts the states reached only through a Catch in the second column, each below what leads to it', () => {
    // Act
    const { nodes } = layoutSagaGraph(definition);

    // Assess
    const rowOf = (name: string) => nodes.find((node) => node.name === name)?.row;
    const compensation = nodes.filter((node) => node.compensation).map((node) => node.name);
    expect(compensation).toHaveLength(13);
    expect(compensation).toEqual(
      expect.arrayContaining(['CheckFulfilled', 'CancelShipment', 'CompensationFailed']),
    );
    expect(
      ['CheckFulfilled', 'FulfilledAfterAll', 'CancelShipment', 'ReturnGoods', 'CancelFulfillmentOrder'].map(
        rowOf,
      ),
    ).toEqual([4, 5, 6, 7, 8]);
    expect(['MarkFulfillmentFailed', 'Compensated', 'FulfillmentFailed'].map(rowOf)).toEqual([9, 10, 11]);
    expect(rowOf('CompensationFailed')).toBe(11);
  });

  it('draws Next, Default and Choices as next arrows and Catch as catch arrows, each once', () => {
    // Act
    const { edges } = layoutSagaGraph(definition);

    // Assess
    expect(edges).toEqual(
      expect.arrayContaining([
        { from: 'PickGoods', to: 'ShipOut', kind: 'next' },
        { from: 'PickGoods', to: 'ReturnGoods', kind: 'catch' },
        { from: 'FulfilledAfterAll', to: 'Fulfilled', kind: 'next' },
        { from: 'FulfilledAfterAll', to: 'CancelShipment', kind: 'next' },
      ]),
    );
    expect(edges).toHaveLength(new Set(edges.map((edge) => JSON.stringify(edge))).size);
    expect(edges.filter((edge) => edge.kind === 'catch')).toHaveLength(8);
  });

  it('lets every arrow within the compensation column point down, so the chain reads top to bottom', () => {
    // Act
    const { nodes, edges } = layoutSagaGraph(definition);

    // Assess
    const node = (name: string) => nodes.find((candidate) => candidate.name === name);
    const inColumn = edges.filter((edge) => node(edge.from)?.compensation && node(edge.to)?.compensation);
    expect(inColumn.length).toBeGreaterThan(10);
    for (const edge of inColumn) expect(node(edge.to)?.row ?? 0).toBeGreaterThan(node(edge.from)?.row ?? 0);
  });

  it('places states of one row side by side, in the definition order', () => {
    // Act
    const { nodes } = layoutSagaGraph(definition);

    // Assess
    const inRow11 = nodes
      .filter((node) => node.compensation && node.row === 11)
      .map((node) => [node.name, node.slot]);
    expect(inRow11).toEqual([
      ['FulfillmentFailed', 0],
      ['CompensationFailed', 1],
    ]);
  });

  it('ends on a loop and ignores arrows to states the definition lacks', () => {
    // Prepare
    const looping: StateMachineDefinition = {
      StartAt: 'Work',
      States: {
        Work: { Type: 'Task', Next: 'Done', Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Wait' }] },
        Wait: { Type: 'Wait', Next: 'Again' },
        Again: { Type: 'Choice', Choices: [{ Next: 'Wait' }], Default: 'Nowhere' },
        Done: { Type: 'Succeed' },
      },
    };

    // Act
    const { nodes, edges } = layoutSagaGraph(looping);

    // Assess
    expect(nodes.map((node) => [node.name, node.compensation, node.row])).toEqual([
      ['Work', false, 0],
      ['Wait', true, 1],
      ['Again', true, 2],
      ['Done', false, 1],
    ]);
    expect(edges.some((edge) => edge.to === 'Nowhere')).toBe(false);
    expect(edges).toContainEqual({ from: 'Again', to: 'Wait', kind: 'next' });
  });
});

describe('stateOutcomes', () => {
  it('keeps each state latest entry across runs', () => {
    // Prepare
    const redriven = saga(
      [
        step('CreateFulfillmentOrder', 'Task', 'succeeded'),
        step('PickGoods', 'Task', 'failed'),
        step('PickGoods', 'Task', 'succeeded', { run: 1 }),
        step('ShipOut', 'Task', 'running', { run: 1 }),
      ],
      { status: 'RUNNING', redriveCount: 1 },
    );

    // Act
    const outcomes = stateOutcomes(redriven);

    // Assess
    expect(Object.fromEntries([...outcomes].map(([name, latest]) => [name, latest.outcome]))).toEqual({
      CreateFulfillmentOrder: 'succeeded',
      PickGoods: 'succeeded',
      ShipOut: 'running',
    });
  });
});

describe('sagaGraph', () => {
  it('draws every state with its name and the outcome of its last run, not-reached when never entered', () => {
    // Act
    const svg = sagaGraph(definition, warehouseFailed).toString();

    // Assess
    const states = drawnStates(svg);
    expect(Object.keys(states)).toHaveLength(18);
    expect(states).toMatchObject({
      CreateFulfillmentOrder: 'succeeded',
      PickGoods: 'failed',
      ReturnGoods: 'succeeded',
      FulfillmentFailed: 'failed',
      ShipOut: 'not-reached',
      CancelShipment: 'not-reached',
      CompensationFailed: 'not-reached',
    });
    expect(svg).toContain('>PickGoods</text>');
    expect(svg).toContain('<title>PickGoods (Task): failed</title>');
    expect(svg).toContain('<title>ReturnGoods (Task, compensation): succeeded</title>');
  });

  it('is one image whose label sums the execution up', () => {
    // Act
    const svg = sagaGraph(definition, warehouseFailed).toString();

    // Assess
    expect(svg).toMatch(/^<svg class="saga-graph" role="img" aria-label="[^"]*"/);
    expect(svg).toContain(
      'aria-label="Saga FAILED: PickGoods failed, FulfillmentFailed failed, 5 of 18 states succeeded"',
    );
  });

  it('says a saga that never started reached nothing', () => {
    // Act
    const svg = sagaGraph(definition, undefined).toString();

    // Assess
    expect(new Set(Object.values(drawnStates(svg)))).toEqual(new Set(['not-reached']));
    expect(svg).toContain('aria-label="Saga not started: 0 of 18 states succeeded"');
  });

  it('draws catch arrows dashed-styled and next arrows plain, with their own arrowheads', () => {
    // Act
    const svg = sagaGraph(definition, warehouseFailed).toString();

    // Assess
    expect(svg.match(/class="saga-edge saga-edge-catch"/g)).toHaveLength(8);
    expect(svg).toContain('marker-end="url(#saga-arrow-catch)"');
    expect(svg).toContain('<marker id="saga-arrow-next"');
  });

  it('escapes state names, which come from a definition it does not control', () => {
    // Prepare
    const hostile: StateMachineDefinition = {
      StartAt: '<script>alert(1)</script>',
      States: { '<script>alert(1)</script>': { Type: 'Succeed' } },
    };

    // Act
    const svg = sagaGraph(hostile, undefined).toString();

    // Assess
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('data-state="&lt;script&gt;alert(1)&lt;/script&gt;"');
  });
});
