import { TurnBudget } from './mcp-front-door';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('TurnBudget', () => {
  it('runs up to its budget at once, the rest in later turns, in arrival order', async () => {
    const budget = new TurnBudget<() => void>(3, (job) => job());
    const ran: number[] = [];
    for (let i = 0; i < 8; i++) budget.run(() => ran.push(i));
    expect(ran).toEqual([0, 1, 2]);
    expect(budget.queued).toBe(5);
    await nextTurn();
    expect(ran).toEqual([0, 1, 2, 3, 4, 5]);
    await nextTurn();
    expect(ran).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(budget.queued).toBe(0);
  });

  it('lets other callbacks of the event loop run between two batches', async () => {
    const budget = new TurnBudget<() => void>(2, (job) => job());
    const events: string[] = [];
    for (let i = 0; i < 6; i++) budget.run(() => events.push(`job ${i}`));
    // Another callback of this turn (as a database answer's would be): it runs before the last
    // batch, not after the whole queue.
    setImmediate(() => events.push('other'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).toEqual(['job 0', 'job 1', 'job 2', 'job 3', 'other', 'job 4', 'job 5']);
  });

  it('runs a job at once when the turn has budget left and nobody waits', async () => {
    const budget = new TurnBudget<() => void>(1, (job) => job());
    const ran: string[] = [];
    budget.run(() => ran.push('a'));
    await nextTurn();
    await nextTurn();
    budget.run(() => ran.push('b'));
    expect(ran).toEqual(['a', 'b']);
  });
});
