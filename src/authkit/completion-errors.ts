/**
 * How a failed completion call is treated. Decided from the status and body code only, so it
 * works for the SDK's exception classes and for anything else that carries `status`/`code`.
 * - `rejected`: AuthKit answered and refused; nothing landed; retrying cannot help.
 * - `unknown`: no answer, a timeout, 408/429/5xx: the completion may or may not have landed.
 *   It is never resent automatically; the person gets a retry button.
 * - `config`: AuthKit refused our credentials (401/403): an operator must fix the setup.
 */
export type CompletionFailureKind = 'rejected' | 'unknown' | 'config';

export interface CompletionFailure {
  kind: CompletionFailureKind;
  /** Stable code for pages, audit rows and logs. */
  code: CompletionFailureCode;
  /** HTTP status AuthKit answered, when it answered. */
  status?: number;
  /** AuthKit's own message, for the log only. */
  detail?: string;
}

/** The documented 400 codes of POST /authkit/oauth2/complete, passed through as our codes. */
export const DOCUMENTED_COMPLETION_CODES = [
  'external_auth_session_already_completed',
  'email_change_not_allowed',
  'email_not_available',
  'invalid_email',
] as const;

export type CompletionFailureCode =
  | (typeof DOCUMENTED_COMPLETION_CODES)[number]
  | 'external_auth_expired'
  | 'authkit_rejected'
  | 'authkit_unavailable'
  | 'authkit_misconfigured';

interface ErrorLike {
  status?: unknown;
  code?: unknown;
  rawData?: { code?: unknown; error?: unknown; message?: unknown };
  error?: unknown;
  message?: unknown;
}

const isDocumented = (c: unknown): c is (typeof DOCUMENTED_COMPLETION_CODES)[number] =>
  typeof c === 'string' && (DOCUMENTED_COMPLETION_CODES as readonly string[]).includes(c);

export function classifyCompletionError(err: unknown): CompletionFailure {
  const e = (err && typeof err === 'object' ? err : {}) as ErrorLike;
  const status = typeof e.status === 'number' ? e.status : undefined;
  const bodyCode = e.rawData?.code ?? e.code;
  const detail = typeof e.message === 'string' ? e.message.slice(0, 300) : undefined;
  if (status === undefined || status === 408 || status === 429 || status >= 500) {
    return { kind: 'unknown', code: 'authkit_unavailable', status, detail };
  }
  if (status === 401 || status === 403)
    return { kind: 'config', code: 'authkit_misconfigured', status, detail };
  if (isDocumented(bodyCode)) return { kind: 'rejected', code: bodyCode, status, detail };
  if (status === 409) {
    return { kind: 'rejected', code: 'external_auth_session_already_completed', status, detail };
  }
  if (status === 404 || status === 410)
    return { kind: 'rejected', code: 'external_auth_expired', status, detail };
  return { kind: 'rejected', code: 'authkit_rejected', status, detail };
}
