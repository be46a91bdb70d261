/**
 * The regions the stack is meant to deploy to, and the ones the pre-deploy check lints it for: cfn-lint checks
 * each resource type and property against each region's own CloudFormation schemas (a service or a property may be
 * missing in one). docs/deploy.md names these.
 */
export const DEPLOY_REGIONS = ['us-east-1', 'eu-west-1', 'eu-central-1', 'ap-southeast-1'] as const;
