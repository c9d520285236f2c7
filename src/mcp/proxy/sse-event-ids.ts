/**
 * A byte stream transform for a `text/event-stream` body that replaces the value of every `id:`
 * field with `map(value)` and passes everything else through unchanged, line by line as it
 * arrives (nothing is held back but an unfinished line). An empty `id:` (which resets the last
 * event id) is left as is. Line ends as the SSE format allows: CRLF, LF or CR.
 */
export function rewriteEventIds(map: (id: string) => string): TransformStream<Uint8Array, Uint8Array> {
  // ignoreBOM: a byte order mark is passed on, not swallowed.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const encoder = new TextEncoder();
  let pending = '';
  let firstLine = true;

  const rewrite = (line: string): string => {
    // A byte order mark before the first line is not part of the field name.
    const bom = firstLine && line.startsWith('\uFEFF') ? '\uFEFF' : '';
    firstLine = false;
    const field = bom ? line.slice(1) : line;
    if (!field.startsWith('id:')) return line;
    let value = field.slice(3);
    if (value.startsWith(' ')) value = value.slice(1);
    return value === '' ? line : `${bom}id: ${map(value)}`;
  };

  const take = (text: string, final: boolean): string => {
    pending += text;
    let out = '';
    let start = 0;
    for (let i = 0; i < pending.length; i++) {
      const c = pending.charCodeAt(i);
      if (c !== 0x0a && c !== 0x0d) continue;
      // A CR at the end may be the first half of a CRLF: wait for the next chunk.
      if (c === 0x0d && i === pending.length - 1 && !final) break;
      const end = c === 0x0d && pending.charCodeAt(i + 1) === 0x0a ? i + 2 : i + 1;
      out += rewrite(pending.slice(start, i)) + pending.slice(i, end);
      start = end;
      i = end - 1;
    }
    pending = pending.slice(start);
    if (final && pending !== '') {
      out += rewrite(pending);
      pending = '';
    }
    return out;
  };

  return new TransformStream({
    transform(chunk, controller) {
      const out = take(decoder.decode(chunk, { stream: true }), false);
      if (out) controller.enqueue(encoder.encode(out));
    },
    flush(controller) {
      const out = take(decoder.decode(), true);
      if (out) controller.enqueue(encoder.encode(out));
    },
  });
}
