/** Messages between the function host and its worker threads. */
export interface WorkerSettings {
  readonly functionName: string;
  readonly functionArn: string;
  readonly entryUrl: string;
  readonly memoryMb: number;
}

export interface InvocationRequest {
  readonly id: number;
  readonly requestId: string;
  readonly deadlineEpochMs: number;
  readonly event: unknown;
}

export type InvocationResponse =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly errorType: string; readonly errorMessage: string };
