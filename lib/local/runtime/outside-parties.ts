import { type AppModel, type OutsidePartyDeclaration, webhookRoutes } from '../../model';
import {
  startTransportSimulator,
  startWarehouseSimulator,
  type TransportSimulator,
  type WarehouseSimulator,
} from '../outside-parties/logistics-simulators';
import {
  type FakePaymentProvider,
  type FakePaymentProviderOptions,
  startFakePaymentProvider,
} from '../outside-parties/payment-provider';
import type { Started } from './wiring';

/** The simulated warehouse and carrier: the fraction (0..1) of actions they fail, and their latency. */
export interface LogisticsStandInOptions {
  readonly warehouseFailureRate?: number;
  readonly transportFailureRate?: number;
  readonly latencyMs?: number;
}

/** The fake payment provider's deliberate trouble and pace (see FakePaymentProviderOptions). */
export type PaymentStandInOptions = Pick<
  FakePaymentProviderOptions,
  'webhookLossRate' | 'webhookDelayMs' | 'processingMs' | 'random'
>;

export interface OutsidePartiesContext {
  readonly model: AppModel;
  /** Where the outside parties send their webhooks: the gateway, bound before anything else. */
  readonly gatewayUrl: string;
  readonly secrets: Readonly<Record<string, string>>;
  /** The run's settings; each stand-in started points its party's URL setting at itself. */
  readonly settings: Record<string, string>;
  readonly logistics: LogisticsStandInOptions;
  readonly payments?: PaymentStandInOptions;
  /** Told of each stand-in as it starts, so a later failure stops it. */
  readonly started: Started[];
}

export interface OutsideParties {
  readonly paymentProvider: FakePaymentProvider | undefined;
  readonly warehouse: WarehouseSimulator | undefined;
  readonly transport: TransportSimulator | undefined;
}

/** The URL its webhooks go to: the gateway's route for the function that holds the party's signing secret. */
function webhookUrl(context: OutsidePartiesContext, party: OutsidePartyDeclaration): string | undefined {
  if (party.webhookSecret === undefined) return undefined;
  const [route] = webhookRoutes(context.model, party.webhookSecret);
  return route === undefined ? undefined : `${context.gatewayUrl}${route.path}`;
}

async function startPaymentProvider(
  context: OutsidePartiesContext,
  party: OutsidePartyDeclaration,
): Promise<FakePaymentProvider | undefined> {
  const apiKey = party.apiKeySecret === undefined ? undefined : context.secrets[party.apiKeySecret];
  const webhookSecret = party.webhookSecret === undefined ? undefined : context.secrets[party.webhookSecret];
  if (apiKey === undefined || webhookSecret === undefined) return undefined;
  const url = webhookUrl(context, party);
  return await startFakePaymentProvider({
    ...context.payments,
    apiKey,
    webhookSecret,
    ...(url === undefined ? {} : { webhookUrl: url }),
  });
}

/** What `/_local/endpoints`, `/_local/secrets` and `npm start` show of the fake Stripe, when it runs. */
export interface StripeListing {
  /** The API base the SDK is pointed at (`host`, `port`, `protocol`). */
  readonly endpoints: { readonly stripe?: string };
  /** The test secret key the fake accepts. */
  readonly secrets: { readonly 'stripe-secret-key'?: string };
}

/** Empty when no fake runs (a real provider's URL was given): its key is not the local system's to show. */
export function stripeListing(
  model: AppModel,
  secrets: Readonly<Record<string, string>>,
  provider: FakePaymentProvider | undefined,
): StripeListing {
  const party = model.outsideParties.find((candidate) => candidate.kind === 'payment-provider');
  const key = party?.apiKeySecret === undefined ? undefined : secrets[party.apiKeySecret];
  if (provider === undefined || key === undefined) return { endpoints: {}, secrets: {} };
  return { endpoints: { stripe: provider.url }, secrets: { 'stripe-secret-key': key } };
}

/** Starts one party's stand-in unless its URL setting was given, and points the setting at it. */
async function standIn<Party extends { readonly url: string; stop(): Promise<void> }>(
  context: OutsidePartiesContext,
  party: OutsidePartyDeclaration,
  start: () => Promise<Party | undefined>,
): Promise<Party | undefined> {
  if (context.settings[party.urlSetting] !== undefined) return undefined;
  const started = await start();
  if (started === undefined) return undefined;
  context.started.push({ name: `${party.kind} stand-in`, stop: () => started.stop() });
  context.settings[party.urlSetting] = started.url;
  return started;
}

/**
 * Starts a stand-in for each outside party the model declares whose URL setting the caller did not set; a real
 * system's URL, when given, is used as it is. The payment provider's stand-in also needs the run's values of
 * its two secrets, which it shares with the functions.
 */
export async function startOutsideParties(context: OutsidePartiesContext): Promise<OutsideParties> {
  const { logistics } = context;
  const simulator = (failureRate: number | undefined) => ({
    failureRate: failureRate ?? 0,
    latencyMs: logistics.latencyMs ?? 0,
  });
  let parties: OutsideParties = { paymentProvider: undefined, warehouse: undefined, transport: undefined };
  for (const party of context.model.outsideParties) {
    switch (party.kind) {
      case 'payment-provider':
        parties = {
          ...parties,
          paymentProvider: await standIn(context, party, () => startPaymentProvider(context, party)),
        };
        break;
      case 'warehouse': {
        const start = () => startWarehouseSimulator(simulator(logistics.warehouseFailureRate));
        parties = { ...parties, warehouse: await standIn(context, party, start) };
        break;
      }
      case 'carrier': {
        const start = () => startTransportSimulator(simulator(logistics.transportFailureRate));
        parties = { ...parties, transport: await standIn(context, party, start) };
        break;
      }
    }
  }
  return parties;
}
