/** Stable codes of the console's own refusals; each has one HTTP status. */
export const ConsoleErrorCode = {
  BAD_REQUEST: 'CONSOLE_BAD_REQUEST',
  CSRF_REFUSED: 'CONSOLE_CSRF_REFUSED',
  HOST_REFUSED: 'CONSOLE_HOST_REFUSED',
  NOT_FOUND: 'CONSOLE_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'CONSOLE_METHOD_NOT_ALLOWED',
} as const;

export type ConsoleErrorCode = (typeof ConsoleErrorCode)[keyof typeof ConsoleErrorCode];

const STATUS_OF: Readonly<Record<ConsoleErrorCode, number>> = {
  CONSOLE_BAD_REQUEST: 400,
  CONSOLE_CSRF_REFUSED: 403,
  CONSOLE_HOST_REFUSED: 403,
  CONSOLE_NOT_FOUND: 404,
  CONSOLE_METHOD_NOT_ALLOWED: 405,
};

/** A request the console refuses; the message is shown to the operator on the error page. */
export class ConsoleRequestError extends Error {
  public override readonly name = 'ConsoleRequestError';
  public readonly status: number;

  public constructor(
    public readonly code: ConsoleErrorCode,
    message: string,
  ) {
    super(message);
    this.status = STATUS_OF[code];
  }
}
