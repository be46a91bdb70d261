import { App } from 'aws-cdk-lib';
import { appModel, settingNames } from '../lib/model';
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

const app = new App();
new OrderBackboneStack(app, 'OrderBackbone', { model: appModel, settings: settingsFromContext(app) });
app.synth();
