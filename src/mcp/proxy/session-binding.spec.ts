import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { MAX_BOUND_ID_LENGTH, SessionIdBinding } from './session-binding';

const SECRET = 'upstream-secret-0123456789abcdef-0123456789';

describe('SessionIdBinding', () => {
  const binding = new SessionIdBinding(SECRET);

  it('unwraps an id only for the sub and the kind it was bound to', () => {
    const bound = binding.wrap('user_a', 'upstream-1');
    expect(bound).toMatch(/^s1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(binding.unwrap('user_a', bound)).toBe('upstream-1');
    expect(binding.unwrap('user_b', bound)).toBeUndefined();
    expect(binding.unwrap('user_a', bound, 'event')).toBeUndefined();
    const event = binding.wrap('user_a', 'upstream-1', 'event');
    expect(event).toMatch(/^e1\./);
    expect(binding.unwrap('user_a', event, 'event')).toBe('upstream-1');
    expect(binding.unwrap('user_a', event)).toBeUndefined();
    expect(binding.unwrap('user_a', `s1.${event.slice(3)}`)).toBeUndefined();
  });

  it('refuses ids bound with another secret, or with the secret itself instead of the derived key', () => {
    const other = new SessionIdBinding(`${SECRET}-other`);
    expect(binding.unwrap('user_a', other.wrap('user_a', 'upstream-1'))).toBeUndefined();
    const id = Buffer.from('upstream-1').toString('base64url');
    const rawKeyMac = createHmac('sha256', SECRET)
      .update(JSON.stringify(['session', 'user_a', id]))
      .digest('base64url');
    expect(binding.unwrap('user_a', `s1.${id}.${rawKeyMac}`)).toBeUndefined();
  });

  it('is the same on every instance with the same secret (stateless)', () => {
    expect(new SessionIdBinding(SECRET).unwrap('user_a', binding.wrap('user_a', 'x'))).toBe('x');
  });

  it('round-trips any upstream id and any sub, and yields visible ASCII', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), fc.string({ maxLength: 60 }), (id, sub) => {
        const bound = binding.wrap(sub, id);
        expect(bound).toMatch(/^[\x21-\x7e]+$/);
        // Lone surrogates do not survive UTF-8; every real id (a header value) does.
        if (id === Buffer.from(id, 'utf8').toString('utf8')) expect(binding.unwrap(sub, bound)).toBe(id);
      }),
    );
  });

  it('refuses every alteration of a bound id, and anything that is not one', () => {
    const bound = binding.wrap('user_a', 'fixture-session-1');
    fc.assert(
      fc.property(
        fc.oneof(
          fc
            .tuple(fc.nat(bound.length - 1), fc.constantFrom(...'AaZz09-_.=+/ '))
            .filter(([i, c]) => bound[i] !== c)
            .map(([i, c]) => bound.slice(0, i) + c + bound.slice(i + 1)),
          fc.nat(bound.length - 1).map((n) => bound.slice(0, n)),
          fc
            .string({ maxLength: 10 })
            .filter((s) => s !== '')
            .map((s) => bound + s),
          fc.string({ maxLength: 100 }),
        ),
        (presented) => {
          expect(binding.unwrap('user_a', presented)).toBeUndefined();
        },
      ),
    );
    expect(binding.unwrap('user_a', 'x'.repeat(MAX_BOUND_ID_LENGTH + 1))).toBeUndefined();
  });
});
