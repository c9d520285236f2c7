import { classifyCompletionError } from './completion-errors';

describe('classifyCompletionError', () => {
  it.each([
    [
      { status: 400, rawData: { code: 'external_auth_session_already_completed' } },
      'rejected',
      'external_auth_session_already_completed',
    ],
    [{ status: 400, rawData: { code: 'email_not_available' } }, 'rejected', 'email_not_available'],
    [{ status: 400, code: 'invalid_email' }, 'rejected', 'invalid_email'],
    [{ status: 400, rawData: { code: 'email_change_not_allowed' } }, 'rejected', 'email_change_not_allowed'],
    [
      { status: 400, error: 'invalid_request', rawData: { error: 'invalid_request' } },
      'rejected',
      'authkit_rejected',
    ],
    [{ status: 404, code: 'entity_not_found' }, 'rejected', 'external_auth_expired'],
    [{ status: 409 }, 'rejected', 'external_auth_session_already_completed'],
    [{ status: 422, code: 'invalid_request_parameters' }, 'rejected', 'authkit_rejected'],
    [{ status: 401 }, 'config', 'authkit_misconfigured'],
    [{ status: 403 }, 'config', 'authkit_misconfigured'],
    [{ status: 408 }, 'unknown', 'authkit_unavailable'],
    [{ status: 429 }, 'unknown', 'authkit_unavailable'],
    [{ status: 500 }, 'unknown', 'authkit_unavailable'],
    [{ status: 503, rawData: { code: 'email_not_available' } }, 'unknown', 'authkit_unavailable'],
    [new Error('Unexpected error: TypeError: fetch failed'), 'unknown', 'authkit_unavailable'],
  ])('%p is %s / %s', (err, kind, code) => {
    expect(classifyCompletionError(err)).toMatchObject({ kind, code });
  });

  it.each([null, undefined, 0, '', 'boom', [], true])(
    'treats the hostile value %p as an unknown outcome',
    (err) => {
      expect(classifyCompletionError(err)).toMatchObject({ kind: 'unknown', code: 'authkit_unavailable' });
    },
  );
});
