import { describe, expect, it } from 'vitest';
import { localSecretValue } from '../../lib/local/runtime/wiring';
import { appModel } from '../../lib/model';

describe('the local values of the model’s secrets', () => {
  it('shape the payment provider’s key and webhook secret as Stripe’s test-mode ones, fresh each run', () => {
    // Prepare
    const party = appModel.outsideParties.find((candidate) => candidate.kind === 'payment-provider');
    if (party?.apiKeySecret === undefined || party.webhookSecret === undefined) {
      throw new Error('the model declares no payment provider with both secrets');
    }

    // Act
    const [key, again] = [localSecretValue(party.apiKeySecret), localSecretValue(party.apiKeySecret)];
    const webhookSecret = localSecretValue(party.webhookSecret);
    const other = localSecretValue('some-other-secret');

    // Assess
    expect(key).toMatch(/^sk_test_[0-9a-f]{32}$/);
    expect(again).not.toBe(key);
    expect(webhookSecret).toMatch(/^whsec_[0-9a-f]{32}$/);
    expect(other).toMatch(/^local-some-other-secret-[0-9a-f]{32}$/);
  });
});
