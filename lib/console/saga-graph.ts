import type { SagaStep, SagaStory } from '../ops/order';
import type { AslState, StateMachineDefinition } from './backend';
import { type Html, html } from './html';

/**
 * The fulfilment saga drawn as the Step Functions console draws an execution: its states as boxes coloured by
 * what happened to them, joined by arrows. Server-side SVG, so the page needs no script and no layout library.
 *
 * Layout, chosen so that every arrow of the happy path and of the compensation chain points down:
 * - the main column holds the states reached from `StartAt` along `Next`, `Default` and `Choices`, each in the
 *   row of its shortest distance from `StartAt`;
 * - the second column holds the compensation states, reached only through a `Catch` (the rule `ops order` labels
 *   them by), each one row below the lowest state that leads to it (the longest path; an arrow that closes a
 *   loop is drawn but places nothing), so a compensation chain reads top to bottom;
 * - states sharing a column and row stand side by side, in the definition's order.
 */

export type StateOutcome = SagaStep['outcome'] | 'not-reached';

export type SagaEdgeKind = 'next' | 'catch';

export interface SagaGraphNode {
  readonly name: string;
  readonly type: string;
  readonly compensation: boolean;
  readonly row: number;
  /** The place in its column's row, from 0 (left). */
  readonly slot: number;
}

export interface SagaGraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: SagaEdgeKind;
}

export interface SagaGraphLayout {
  readonly nodes: readonly SagaGraphNode[];
  readonly edges: readonly SagaGraphEdge[];
}

const NODE_HEIGHT = 44;
const ROW_GAP = 26;
const SLOT_GAP = 24;
const COLUMN_GAP = 96;
const MARGIN = 12;
/** Room right of the last column for arrows that bow around the boxes between their ends. */
const CURVE_ROOM = 72;
/** An estimate of a character's width at the graph's 13px font, enough to size boxes without measuring text. */
const CHARACTER_WIDTH = 7.8;
const MIN_NODE_WIDTH = 150;

function normalTargets(state: AslState): string[] {
  return [
    ...(state.Next === undefined ? [] : [state.Next]),
    ...(state.Choices ?? []).map((choice) => choice.Next),
    ...(state.Default === undefined ? [] : [state.Default]),
  ];
}

function catchTargets(state: AslState): string[] {
  return (state.Catch ?? []).map((handler) => handler.Next);
}

/** Where each state goes and which arrows join them; see the module documentation for the rules. */
export function layoutSagaGraph(definition: StateMachineDefinition): SagaGraphLayout {
  const names = Object.keys(definition.States);
  const known = (name: string) => Object.hasOwn(definition.States, name);
  const edges: SagaGraphEdge[] = [];
  for (const name of names) {
    const state = definition.States[name];
    if (state === undefined) continue;
    const add = (to: string, kind: SagaEdgeKind) => {
      const duplicate = edges.some((edge) => edge.from === name && edge.to === to && edge.kind === kind);
      if (known(to) && !duplicate) edges.push({ from: name, to, kind });
    };
    for (const to of normalTargets(state)) add(to, 'next');
    for (const to of catchTargets(state)) add(to, 'catch');
  }

  const mainRows = new Map<string, number>();
  const queue = known(definition.StartAt) ? [definition.StartAt] : [];
  if (queue[0] !== undefined) mainRows.set(queue[0], 0);
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const row = (mainRows.get(name) ?? 0) + 1;
    for (const edge of edges) {
      if (edge.from !== name || edge.kind !== 'next' || mainRows.has(edge.to)) continue;
      mainRows.set(edge.to, row);
      queue.push(edge.to);
    }
  }

  // Arrows that close a loop, found depth-first from StartAt: rows follow the others, which form no cycle.
  const loopEdges = new Set<SagaGraphEdge>();
  const visited = new Map<string, 'open' | 'done'>();
  const visit = (name: string): void => {
    visited.set(name, 'open');
    for (const edge of edges.filter((candidate) => candidate.from === name)) {
      const seen = visited.get(edge.to);
      if (seen === 'open') loopEdges.add(edge);
      else if (seen === undefined) visit(edge.to);
    }
    visited.set(name, 'done');
  };
  for (const name of [...mainRows.keys(), ...names]) if (!visited.has(name)) visit(name);

  const compensationRows = new Map<string, number>();
  const rowOf = (name: string): number => {
    const placed = mainRows.get(name) ?? compensationRows.get(name);
    if (placed !== undefined) return placed;
    const row = Math.max(
      0,
      ...edges.filter((edge) => edge.to === name && !loopEdges.has(edge)).map((edge) => rowOf(edge.from) + 1),
    );
    compensationRows.set(name, row);
    return row;
  };

  const taken = new Map<string, number>();
  const nodes = names.map((name): SagaGraphNode => {
    const compensation = !mainRows.has(name);
    const row = rowOf(name);
    const cell = `${compensation ? 'c' : 'm'}${row}`;
    const slot = taken.get(cell) ?? 0;
    taken.set(cell, slot + 1);
    return { name, type: definition.States[name]?.Type ?? '?', compensation, row, slot };
  });
  return { nodes, edges };
}

/**
 * What happened to each state the execution entered, by its latest entry across runs: on AWS a redrive goes on
 * from the failed state, so the states before it appear only in earlier runs, and their outcome there stands.
 */
export function stateOutcomes(saga: SagaStory | undefined): ReadonlyMap<string, SagaStep> {
  const latest = new Map<string, SagaStep>();
  for (const step of saga?.steps ?? []) latest.set(step.name, step);
  return latest;
}

interface Box {
  readonly x: number;
  readonly y: number;
  readonly node: SagaGraphNode;
}

/**
 * The saga as an inline `<svg role="img">` whose label sums it up (e.g. "Saga FAILED: PickGoods failed, ...");
 * each state is a `<g data-state data-outcome>` with its name as visible text, its type and outcome as a second
 * line (so the outcome does not rest on colour alone) and a `<title>` as its tooltip.
 */
export function sagaGraph(definition: StateMachineDefinition, saga: SagaStory | undefined): Html {
  const { nodes, edges } = layoutSagaGraph(definition);
  const steps = stateOutcomes(saga);
  const outcomeOf = (name: string): StateOutcome => steps.get(name)?.outcome ?? 'not-reached';
  const secondLine = (node: SagaGraphNode) => `${node.type} · ${outcomeOf(node.name)}`;

  const longest = Math.max(0, ...nodes.flatMap((node) => [node.name.length, secondLine(node).length]));
  const nodeWidth = Math.max(MIN_NODE_WIDTH, Math.ceil(longest * CHARACTER_WIDTH) + 24);
  const slotsOf = (compensation: boolean) =>
    Math.max(0, ...nodes.filter((node) => node.compensation === compensation).map((node) => node.slot + 1));
  const mainWidth = slotsOf(false) * (nodeWidth + SLOT_GAP) - SLOT_GAP;
  const compensationSlots = slotsOf(true);
  const boxes = new Map<string, Box>(
    nodes.map((node) => {
      const columnStart = node.compensation ? MARGIN + Math.max(0, mainWidth) + COLUMN_GAP : MARGIN;
      const x = columnStart + node.slot * (nodeWidth + SLOT_GAP);
      return [node.name, { x, y: MARGIN + node.row * (NODE_HEIGHT + ROW_GAP), node }];
    }),
  );
  const rows = Math.max(0, ...nodes.map((node) => node.row + 1));
  const width =
    MARGIN * 2 +
    Math.max(0, mainWidth) +
    (compensationSlots === 0 ? 0 : COLUMN_GAP + compensationSlots * (nodeWidth + SLOT_GAP) - SLOT_GAP) +
    CURVE_ROOM;
  const height = MARGIN * 2 + rows * (NODE_HEIGHT + ROW_GAP) - ROW_GAP;

  const arrows = edges.flatMap((edge) => {
    const from = boxes.get(edge.from);
    const to = boxes.get(edge.to);
    return from === undefined || to === undefined
      ? []
      : [
          html`<path class="saga-edge saga-edge-${edge.kind}" d="${edgePath(from, to, nodeWidth)}" marker-end="url(#saga-arrow-${edge.kind})"/>`,
        ];
  });
  const states = [...boxes.values()].map(({ x, y, node }) => {
    const outcome = outcomeOf(node.name);
    const centre = x + nodeWidth / 2;
    return html`<g class="saga-state" data-state="${node.name}" data-outcome="${outcome}"><title>${node.name} (${node.type}${node.compensation ? ', compensation' : ''}): ${outcome}</title><rect x="${x}" y="${y}" width="${nodeWidth}" height="${NODE_HEIGHT}" rx="6"/><text class="saga-state-name" x="${centre}" y="${y + 18}" text-anchor="middle">${node.name}</text><text class="saga-state-outcome" x="${centre}" y="${y + 35}" text-anchor="middle">${secondLine(node)}</text></g>`;
  });
  const markers = (['next', 'catch'] as const).map(
    (kind) =>
      html`<marker id="saga-arrow-${kind}" class="saga-arrow saga-arrow-${kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>`,
  );
  return html`<svg class="saga-graph" role="img" aria-label="${summary(nodes, outcomeOf, saga)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg"><defs>${markers}</defs>${arrows}${states}</svg>`;
}

/** The graph's text alternative: the execution's status, what did not succeed, and how much did. */
function summary(
  nodes: readonly SagaGraphNode[],
  outcomeOf: (name: string) => StateOutcome,
  saga: SagaStory | undefined,
): string {
  const notes = (['failed', 'running', 'interrupted'] as const).flatMap((outcome) =>
    nodes.filter((node) => outcomeOf(node.name) === outcome).map((node) => `${node.name} ${outcome}`),
  );
  const succeeded = nodes.filter((node) => outcomeOf(node.name) === 'succeeded').length;
  return `Saga ${saga?.status ?? 'not started'}: ${[...notes, `${succeeded} of ${nodes.length} states succeeded`].join(', ')}`;
}

/**
 * The arrow between two boxes: straight down between neighbouring rows of one place; side to side between
 * places; otherwise (further down, or back up, in one place) a curve that bows right around the boxes between.
 */
function edgePath(from: Box, to: Box, nodeWidth: number): string {
  const middle = NODE_HEIGHT / 2;
  if (from.x === to.x) {
    if (to.node.row === from.node.row + 1) {
      const x = from.x + nodeWidth / 2;
      return `M${x},${from.y + NODE_HEIGHT} L${x},${to.y}`;
    }
    const right = from.x + nodeWidth;
    const bow = right + Math.min(24 + 10 * Math.abs(to.node.row - from.node.row), CURVE_ROOM - 8);
    return `M${right},${from.y + middle} C${bow},${from.y + middle} ${bow},${to.y + middle} ${right},${to.y + middle}`;
  }
  const rightwards = to.x > from.x;
  const fromX = rightwards ? from.x + nodeWidth : from.x;
  const toX = rightwards ? to.x : to.x + nodeWidth;
  return `M${fromX},${from.y + middle} L${toX},${to.y + middle}`;
}
