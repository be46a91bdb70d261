import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DeadLetterSendError } from './errors';

/** Where exhausted deliveries go; {@link sqsDeadLetterSender} implements it with a real (or local) SQS client. */
export interface DeadLetterSender {
  sendToDeadLetterQueue(
    queueArn: string,
    body: string,
    attributes: Readonly<Record<string, string>>,
  ): Promise<void>;
}

/**
 * Sends dead letters with an SQS client (pointed at the local SQS in the local runtime), resolving each queue ARN
 * to its URL once. The attributes travel as String message attributes, as EventBridge Scheduler sends them.
 */
export function sqsDeadLetterSender(sqs: SQSClient): DeadLetterSender {
  const queueUrl = queueUrlResolver(sqs);
  return {
    async sendToDeadLetterQueue(queueArn, body, attributes) {
      try {
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: await queueUrl(queueArn),
            MessageBody: body,
            MessageAttributes: Object.fromEntries(
              Object.entries(attributes).map(([name, value]) => [
                name,
                { DataType: 'String', StringValue: value },
              ]),
            ),
          }),
        );
      } catch (error) {
        if (error instanceof DeadLetterSendError) throw error;
        throw new DeadLetterSendError(`Could not send to ${queueArn}: ${String(error)}`, { cause: error });
      }
    },
  };
}

function queueUrlResolver(sqs: SQSClient): (queueArn: string) => Promise<string> {
  const urls = new Map<string, Promise<string>>();
  return (queueArn) => {
    let url = urls.get(queueArn);
    if (url === undefined) {
      const [, , , , owner, queueName] = queueArn.split(':');
      if (owner === undefined || queueName === undefined) {
        return Promise.reject(new DeadLetterSendError(`Not an SQS queue ARN: ${queueArn}`));
      }
      url = sqs
        .send(new GetQueueUrlCommand({ QueueName: queueName, QueueOwnerAWSAccountId: owner }))
        .then((out) => {
          if (out.QueueUrl === undefined) throw new DeadLetterSendError(`No URL for queue ${queueArn}`);
          return out.QueueUrl;
        });
      // A failed lookup is not cached: the queue may be created later.
      url.catch(() => urls.delete(queueArn));
      urls.set(queueArn, url);
    }
    return url;
  };
}
