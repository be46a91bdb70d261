import { checkIam } from './iam-rules';
import { type Finding, sortFindings } from './report';
import { checkServiceRules } from './service-rules';
import { checkStepFunctions } from './step-functions-rules';
import { DeployTemplate } from './template';

/**
 * Every rule of the pre-deploy check except cfn-lint's (a separate process, run once for several templates by
 * `runCfnLint`) on one synthesized template, given as its parsed JSON.
 */
export async function checkTemplate(json: unknown): Promise<Finding[]> {
  const template = new DeployTemplate(json);
  return sortFindings([
    ...(await checkIam(template)),
    ...checkStepFunctions(template),
    ...checkServiceRules(template),
  ]);
}
