/**
 * Why the pre-deploy check could not run (as opposed to findings, which it reports): `bin/check-deploy.ts` exits 2
 * on these, 1 on findings.
 */
export abstract class DeployCheckError extends Error {
  public abstract readonly code: string;
}

/** The command line names no valid option. */
export class DeployCheckUsageError extends DeployCheckError {
  public override readonly name = 'DeployCheckUsageError';
  public readonly code = 'DEPLOY_CHECK_USAGE';
}

/** A file given or synthesized is not a CloudFormation template the check can read. */
export class TemplateFormatError extends DeployCheckError {
  public override readonly name = 'TemplateFormatError';
  public readonly code = 'DEPLOY_CHECK_TEMPLATE_INVALID';
}

/** `cdk synth` failed (a cdk-nag finding not acknowledged, a model error, ...); its output says why. */
export class SynthFailedError extends DeployCheckError {
  public override readonly name = 'SynthFailedError';
  public readonly code = 'DEPLOY_CHECK_SYNTH_FAILED';
}

/** `cfn-lint` is not on the PATH. */
export class CfnLintMissingError extends DeployCheckError {
  public override readonly name = 'CfnLintMissingError';
  public readonly code = 'DEPLOY_CHECK_CFN_LINT_MISSING';
}

/** `cfn-lint` ran but gave no result the check can read. */
export class CfnLintFailedError extends DeployCheckError {
  public override readonly name = 'CfnLintFailedError';
  public readonly code = 'DEPLOY_CHECK_CFN_LINT_FAILED';
}
