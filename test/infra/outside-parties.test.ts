import { describe, expect, it } from 'vitest';
import { type AppModel, appModel, webhookRoutes } from '../../lib/model';
import { assertDeployableModel, InvalidModelError } from '../../lib/model-checks';

function problemsOf(model: AppModel): readonly string[] {
  try {
    assertDeployableModel(model);
    return [];
  } catch (error) {
    if (error instanceof InvalidModelError) return error.problems;
    throw error;
  }
}

describe('outside parties in the model', () => {
  it('sends each party’s webhooks to the route of the function that holds its signing secret', () => {
    // Prepare
    const signing = appModel.outsideParties.filter((party) => party.webhookSecret !== undefined);

    // Act
    const routes = signing.map((party) => [
      party.kind,
      webhookRoutes(appModel, party.webhookSecret ?? '').map((route) => `${route.method} ${route.path}`),
    ]);

    // Assess
    expect(routes).toEqual([
      ['payment-provider', ['POST /webhooks/payments']],
      ['carrier', ['POST /webhooks/logistics']],
    ]);
  });

  it('refuses a party declared twice, at an unread setting, with an undeclared secret or no webhook route', () => {
    // Prepare
    const model: AppModel = {
      ...appModel,
      secrets: [...appModel.secrets, { name: 'unheld-secret', description: 'held by no function' }],
      outsideParties: [
        ...appModel.outsideParties,
        { kind: 'warehouse', urlSetting: 'NOBODY_READS_THIS_URL' },
        { kind: 'payment-provider', urlSetting: 'PAYMENT_PROVIDER_URL', apiKeySecret: 'no-such-secret' },
        { kind: 'carrier', urlSetting: 'TRANSPORT_API_URL', webhookSecret: 'unheld-secret' },
      ],
    };

    // Act
    const problems = problemsOf(model);

    // Assess
    expect(problems).toEqual([
      "outside party 'warehouse' is declared more than once",
      "outside party 'payment-provider' is declared more than once",
      "outside party 'carrier' is declared more than once",
      "outside party 'warehouse' has its URL in setting 'NOBODY_READS_THIS_URL', which no function reads",
      "outside party 'payment-provider' uses undeclared secret 'no-such-secret'",
      "outside party 'carrier' needs exactly one HTTP route whose function holds 'unheld-secret'",
    ]);
  });
});
