/** Why a token was refused. Stable codes for logs and tests; the descriptions go to clients. */
export type TokenRejection =
  | 'missing'
  | 'not_bearer'
  | 'too_large'
  | 'malformed'
  | 'alg_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'missing_claims'
  | 'revoked'
  | 'unlinked';

/** A fixed set of sentences: nothing from the token itself is echoed back. */
export const REJECTION_DESCRIPTIONS: Record<TokenRejection, string> = {
  missing: 'No access token was sent.',
  not_bearer: 'The Authorization header must carry a Bearer token.',
  too_large: 'The access token is too large.',
  malformed: 'The access token is malformed.',
  alg_not_allowed: 'The access token is signed with an algorithm that is not accepted.',
  unknown_key: 'The access token is signed with an unknown key.',
  bad_signature: 'The access token signature is invalid.',
  expired: 'The access token has expired.',
  not_yet_valid: 'The access token is not valid yet.',
  wrong_issuer: 'The access token was not issued by the expected authorization server.',
  wrong_audience: 'The access token was not issued for this resource.',
  missing_claims: 'The access token lacks required claims.',
  revoked: 'Access for this application was revoked; sign in again to connect it.',
  unlinked:
    'Access is revoked: the user of this access token never signed in through this service; sign in again.',
};

export class TokenRejectedError extends Error {
  constructor(
    readonly reason: TokenRejection,
    options?: { cause?: unknown },
  ) {
    super(REJECTION_DESCRIPTIONS[reason], options);
    this.name = 'TokenRejectedError';
  }
}
