import { App } from 'aws-cdk-lib';
import { StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import { appModel, settingNames, withMaxReceiveCount } from '../lib/model';
import { OrderBackboneStack } from '../lib/stack';

/** Every `{ setting }` the model declares, so `cdk synth -c PAYMENT_TIMEOUT_SECONDS=60` overrides its default. */
function settingsFromContext(app: App): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const name of settingNames(appModel)) {
    const value: unknown = app.node.tryGetContext(name);
    // cdk.json may hold a number where `-c` always yields a string; both mean the same setting.
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      settings[name] = String(value);
    }
  }
  return settings;
}

/** `-c workflowType=EXPRESS` deploys the saga as an Express workflow; STANDARD (exactly-once, redrivable) by default. */
function workflowTypeFromContext(app: App): StateMachineType {
  const value: unknown = app.node.tryGetContext('workflowType') ?? 'STANDARD';
  if (value !== 'STANDARD' && value !== 'EXPRESS') {
    throw new Error(`context workflowType must be STANDARD or EXPRESS, not ${String(value)}`);
  }
  return value === 'EXPRESS' ? StateMachineType.EXPRESS : StateMachineType.STANDARD;
}

/** `-c alarmEmail=oncall@example.com` subscribes that address to the alarm topic. */
function alarmEmailFromContext(app: App): string | undefined {
  const value: unknown = app.node.tryGetContext('alarmEmail');
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(value)) {
    throw new Error(`context alarmEmail must be an email address, not ${String(value)}`);
  }
  return value;
}

const app = new App();
const maxReceiveCount: unknown = app.node.tryGetContext('maxReceiveCount');
new OrderBackboneStack(app, 'OrderBackbone', {
  model: withMaxReceiveCount(appModel, maxReceiveCount === undefined ? undefined : Number(maxReceiveCount)),
  settings: settingsFromContext(app),
  workflowType: workflowTypeFromContext(app),
  alarmEmail: alarmEmailFromContext(app),
});
app.synth();
