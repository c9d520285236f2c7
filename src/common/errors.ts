/**
 * One error shape for the whole service: a typed error with a stable code, an HTTP status and
 * a message a person can act on. The exception filter turns it into JSON (APIs) or a page
 * (browser routes). `cause` keeps the original for the log, never for the response.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number = 400,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('conflict', message, 409, options);
  }
}

export class NotFoundError extends DomainError {
  constructor(message: string) {
    super('not_found', message, 404);
  }
}

export class ServiceUnavailableError extends DomainError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, 503, options);
  }
}
