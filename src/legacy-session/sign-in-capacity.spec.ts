import { ConcurrencyGate, RateGate, SignInBusyError } from './sign-in-capacity';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ConcurrencyGate', () => {
  it('runs at most `concurrency` tasks, queues `queueLimit`, refuses the rest at once as busy', async () => {
    const gate = new ConcurrencyGate(2, 1);
    const blockers = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const runs = blockers.map((d, i) =>
      gate.run(async () => {
        started.push(i);
        await d.promise;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect([gate.active, gate.queued]).toEqual([2, 1]);
    await expect(gate.run(async () => 'never')).rejects.toBeInstanceOf(SignInBusyError);
    await expect(gate.run(async () => 'never')).rejects.toMatchObject({ status: 429, code: 'sign_in_busy' });

    blockers[0].resolve();
    await expect(runs[0]).resolves.toBe(0);
    expect(started).toEqual([0, 1, 2]); // the queued one took the freed slot
    expect([gate.active, gate.queued]).toEqual([2, 0]);
    blockers[1].resolve();
    blockers[2].resolve();
    await expect(Promise.all(runs)).resolves.toEqual([0, 1, 2]);
    expect([gate.active, gate.queued]).toEqual([0, 0]);
  });

  it('frees the slot of a task that fails', async () => {
    const gate = new ConcurrencyGate(1, 0);
    await expect(gate.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(gate.run(async () => 'ok')).resolves.toBe('ok');
    expect(gate.active).toBe(0);
  });

  it('with no queue, refuses whatever finds every slot taken', async () => {
    const gate = new ConcurrencyGate(1, 0);
    const d = deferred();
    const first = gate.run(() => d.promise);
    await expect(gate.run(async () => 1)).rejects.toBeInstanceOf(SignInBusyError);
    d.resolve();
    await first;
  });

  it('refuses nonsense sizes', () => {
    expect(() => new ConcurrencyGate(0, 1)).toThrow(RangeError);
    expect(() => new ConcurrencyGate(1, -1)).toThrow(RangeError);
  });
});

describe('RateGate', () => {
  it('lets a burst of `limit` through, then refills at limit per window', () => {
    let now = 1_000;
    const gate = new RateGate(() => now);
    for (let i = 0; i < 5; i++) expect(gate.take(5, 1)).toBeNull();
    expect(gate.take(5, 1)).toEqual({ retryAfterSeconds: 1 });
    now += 200; // one token back (5 per second)
    expect(gate.take(5, 1)).toBeNull();
    expect(gate.take(5, 1)).not.toBeNull();
    now += 10_000; // never more than a full burst
    for (let i = 0; i < 5; i++) expect(gate.take(5, 1)).toBeNull();
    expect(gate.take(5, 1)).not.toBeNull();
  });

  it('follows a limit changed while running, and says how long to wait', () => {
    let now = 0;
    const gate = new RateGate(() => now);
    expect(gate.take(100, 1)).toBeNull();
    for (let i = 0; i < 3; i++) expect(gate.take(3, 60)).toBeNull();
    expect(gate.take(3, 60)).toEqual({ retryAfterSeconds: 20 });
    now += 20_000;
    expect(gate.take(3, 60)).toBeNull();
  });
});
