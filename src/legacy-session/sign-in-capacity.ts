import { DomainError } from '../common/errors';

/**
 * The instance has no room for another sign-in attempt right now (the per-second ceiling, or
 * password hashing with every slot and queue place taken): a 429 with Retry-After, as a page
 * for browsers and JSON otherwise, and nothing written. Not a 503: those are logged as errors
 * one by one, and a flood would then flood the log too.
 */
export class SignInBusyError extends DomainError {
  constructor(readonly retryAfterSeconds = 1) {
    super(
      'sign_in_busy',
      'The sign-in service is busy with too many sign-ins right now. Wait a few seconds, then go back and try again.',
      429,
    );
  }
}

/**
 * A semaphore with a bounded queue: at most `concurrency` tasks run, at most `queueLimit` wait
 * (in arrival order); anything beyond is refused at once with SignInBusyError, so a flood gets
 * fast refusals instead of an ever longer queue and memory held by every waiting request.
 */
export class ConcurrencyGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly queueLimit: number,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError('concurrency must be 1 or more');
    if (!Number.isInteger(queueLimit) || queueLimit < 0) throw new RangeError('queueLimit must be 0 or more');
  }

  /** How many tasks can be running or waiting at once. */
  get capacity(): number {
    return this.concurrency + this.queueLimit;
  }

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.concurrency) {
      this.running++;
    } else if (this.waiting.length < this.queueLimit) {
      // The slot is handed over by the task that ends (running stays the same).
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      throw new SignInBusyError(1);
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/**
 * A token bucket in memory: `limit` attempts per `windowSeconds`, refilled continuously, a burst
 * of at most `limit`. The limit is passed on every call so that it can be changed while running.
 */
export class RateGate {
  private tokens?: number;
  private last = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Takes one token: null when there was one, else how long (whole seconds) until there is. */
  take(limit: number, windowSeconds: number): { retryAfterSeconds: number } | null {
    const now = this.now();
    const perMs = limit / (windowSeconds * 1000);
    this.tokens = Math.min(limit, (this.tokens ?? limit) + (now - this.last) * perMs);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return null;
    }
    return { retryAfterSeconds: Math.max(1, Math.ceil((1 - this.tokens) / perMs / 1000)) };
  }
}
