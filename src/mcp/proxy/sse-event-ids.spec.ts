import fc from 'fast-check';
import { rewriteEventIds } from './sse-event-ids';

/** Runs `text`, cut into `chunks` at the given byte offsets, through the transform. */
async function run(text: string, cuts: number[] = []): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const offsets = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let start = 0;
  for (const end of [...offsets, bytes.length]) {
    parts.push(bytes.slice(start, end));
    start = end;
  }
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of parts) controller.enqueue(p);
      controller.close();
    },
  });
  const out = source.pipeThrough(rewriteEventIds((id) => `<${id}>`));
  let result = '';
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  for await (const chunk of out) result += decoder.decode(chunk, { stream: true });
  return result + decoder.decode();
}

describe('rewriteEventIds', () => {
  it('rewrites id fields whatever the line ends, and nothing else', async () => {
    expect(await run('id: 1\ndata: x\n\n')).toBe('id: <1>\ndata: x\n\n');
    expect(await run('id:2\r\ndata: id: 3\r\n\r\n')).toBe('id: <2>\r\ndata: id: 3\r\n\r\n');
    expect(await run('id: 4\rdata: y\r\r')).toBe('id: <4>\rdata: y\r\r');
    expect(await run('\uFEFFid: 5\n\n')).toBe('\uFEFFid: <5>\n\n');
    expect(await run(': comment id: 6\nid\nid:\nid: \nretry: 10\n')).toBe(
      ': comment id: 6\nid\nid:\nid: \nretry: 10\n',
    );
    expect(await run('id: last')).toBe('id: <last>');
    expect(await run('id:  two spaces\n')).toBe('id: < two spaces>\n');
  });

  it('gives the same output however the stream is cut into chunks (CRLF, UTF-8 split included)', async () => {
    const line = fc.oneof(
      fc.string({ maxLength: 12 }).map((s) => `id: ${s.replace(/[\r\n]/g, '')}`),
      fc.string({ maxLength: 12 }).map((s) => `data: ${s.replace(/[\r\n]/g, '')}`),
      fc.constantFrom('', ': ping', 'id:', 'data: é€😀', 'event: message'),
    );
    const end = fc.constantFrom('\n', '\r\n', '\r');
    const text = fc
      .array(fc.tuple(line, end), { maxLength: 12 })
      .map((ls) => ls.map(([l, e]) => l + e).join(''));
    await fc.assert(
      fc.asyncProperty(text, fc.array(fc.nat(200), { maxLength: 8 }), async (t, cuts) => {
        expect(await run(t, cuts)).toBe(await run(t));
      }),
    );
  });
});
