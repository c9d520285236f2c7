import type { AppConfig } from '../config/app-config';
import { PasswordHasher, PASSWORD_HASHING_DEFAULTS } from './password-hasher';
import { SignInBusyError } from './sign-in-capacity';

const withLimits = (concurrency: number, queue: number) =>
  new PasswordHasher({ login: { passwordHashing: { concurrency, queue } } as AppConfig['login'] });

describe('PasswordHasher: the ceiling on password checks', () => {
  let stored: string;
  beforeAll(async () => {
    stored = await new PasswordHasher().hash('correct horse');
  });

  it('takes its ceiling from the config, and defaults without one (the CLI)', () => {
    expect(withLimits(3, 7).gate.capacity).toBe(10);
    const defaults = new PasswordHasher().gate;
    expect([defaults.concurrency, defaults.queueLimit]).toEqual([
      PASSWORD_HASHING_DEFAULTS.concurrency,
      PASSWORD_HASHING_DEFAULTS.queue,
    ]);
  });

  it('checks at most `concurrency` at once, queues `queue`, and answers busy beyond (not "wrong password")', async () => {
    const hasher = withLimits(1, 1);
    const burst = Array.from({ length: 4 }, (_, i) =>
      hasher.verify(stored, i === 0 ? 'correct horse' : 'wrong').then(
        (ok) => ({ ok }),
        (err: unknown) => ({ err }),
      ),
    );
    const results = await Promise.all(burst);
    expect(results.slice(0, 2)).toEqual([{ ok: true }, { ok: false }]);
    for (const r of results.slice(2)) expect((r as { err: unknown }).err).toBeInstanceOf(SignInBusyError);
    // Room again afterwards.
    await expect(hasher.verify(stored, 'correct horse')).resolves.toBe(true);
    expect([hasher.gate.active, hasher.gate.queued]).toEqual([0, 0]);
  });

  it('does not gate hashing a new password (CLI, seeding)', async () => {
    const hasher = withLimits(1, 0);
    let release!: () => void;
    const held = hasher.gate.run(() => new Promise<void>((r) => (release = r)));
    await expect(hasher.hash('another password')).resolves.toMatch(/^\$argon2id\$/);
    await expect(hasher.verify(stored, 'correct horse')).rejects.toBeInstanceOf(SignInBusyError);
    release();
    await held;
  });

  it('hashes and checks on the thread pool, never on the event loop', async () => {
    // The event loop keeps turning while argon2 works; a synchronous call would allow no turn.
    const turnsDuring = async (work: () => Promise<unknown>) => {
      let turns = 0;
      let spinning = true;
      const spin = () => {
        turns++;
        if (spinning) setImmediate(spin);
      };
      setImmediate(spin);
      await work();
      spinning = false;
      return turns;
    };
    const hasher = new PasswordHasher();
    expect(await turnsDuring(() => hasher.hash('another password'))).toBeGreaterThan(1);
    expect(await turnsDuring(() => hasher.verify(stored, 'wrong'))).toBeGreaterThan(1);
  });
});
