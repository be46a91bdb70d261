/**
 * Why the pre-deploy check could not run (as opposed to findings, which it reports): `bin/check-deploy.ts` exits 2
 * on these, 1 on findings.
 */
export type DeployCheckErrorCode =
  /** The command line names no valid option. */
  | 'DEPLOY_CHECK_USAGE'
  /** A file given or synthesized is not a CloudFormation template the check can read. */
  | 'DEPLOY_CHECK_TEMPLATE_INVALID'
  /** `cdk synth` failed (a cdk-nag finding not acknowledged, a model error, ...); its output says why. */
  | 'DEPLOY_CHECK_SYNTH_FAILED'
  /** `cfn-lint` is not on the PATH. */
  | 'DEPLOY_CHECK_CFN_LINT_MISSING'
  /** `cfn-lint` ran but gave no result the check can read. */
  | 'DEPLOY_CHECK_CFN_LINT_FAILED';

/** The one error of the check; its code is what tells the reasons apart. */
export class DeployCheckError extends Error {
  public override readonly name = 'DeployCheckError';
  public readonly code: DeployCheckErrorCode;

  public constructor(code: DeployCheckErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
