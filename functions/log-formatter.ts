import { LogFormatter, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';

/**
 * The Lambda context keys Powertools' standard formatter writes that this one leaves out. Each function has a log
 * group of its own, so the function's name and ARN on every line say again what the log group says (Logs
 * Insights shows it as `@log`); the memory size is the function's configuration; the sampling rate is always 0
 * (no debug sampling is configured). Together about 230 of a typical line's 800 bytes.
 */
export const OMITTED_CONTEXT_KEYS = [
  'function_arn',
  'function_name',
  'function_memory_size',
  'sampling_rate',
] as const;

/**
 * Powertools' JSON line (`level`, which Lambda's log-level filtering reads, `message`, `timestamp`, `service`)
 * with the part of the Lambda context an operator uses to follow an invocation: `function_request_id` (every line
 * of one invocation), `xray_trace_id` (its trace) and `cold_start: true` on the lines of a cold start only (it is
 * false on nearly every line, and its absence says so); then the keys the code appended (`orderId`,
 * `correlation_id`, ...) and the line's own.
 */
export class LeanLogFormatter extends LogFormatter {
  public override formatAttributes(
    attributes: UnformattedAttributes,
    additionalLogAttributes: LogAttributes,
  ): LogItem {
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: attributes.message,
        timestamp: this.formatTimestamp(attributes.timestamp),
        service: attributes.serviceName,
        // Powertools leaves out undefined keys.
        cold_start: attributes.lambdaContext?.coldStart === true ? true : undefined,
        function_request_id: attributes.lambdaContext?.awsRequestId,
        xray_trace_id: attributes.xRayTraceId,
      },
    }).addAttributes(additionalLogAttributes);
  }
}
