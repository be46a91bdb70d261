/** The stack's name unless `-c stackName=<name>` gives another; `npm run console` looks for it by default too. */
export const DEFAULT_STACK_NAME = 'OrderBackbone';

/**
 * Turns a model name such as `order-events.fifo` into `OrderEventsFifo`, so that construct ids and output
 * names stay stable, readable and valid CloudFormation logical ids whatever punctuation the model uses.
 */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part.length > 0)
    .map((part) => `${part.charAt(0).toUpperCase()}${part.slice(1)}`)
    .join('');
}

/**
 * The variable that an environment entry `key: { secret }` becomes in AWS: `PAYMENT_WEBHOOK_SECRET` becomes
 * `PAYMENT_WEBHOOK_SECRET_ARN`, which holds the secret's ARN (locally, `key` itself holds the value).
 */
export function secretArnVariable(key: string): string {
  return `${key}_ARN`;
}
