import { isJSONRPCNotification, isJSONRPCRequest } from '@modelcontextprotocol/server';
import { isJsonRpcMessage } from './json-rpc-shape';

const sdk = (m: Record<string, unknown>) =>
  m.id === undefined ? isJSONRPCNotification(m) : isJSONRPCRequest(m);

/** Every combination of these parts, parsed from JSON as the endpoint receives them. */
const jsonrpc = ['"2.0"', '"1.0"', '2', 'null', undefined];
const ids = [
  '1',
  '0',
  '-7',
  '"a"',
  '""',
  '1.5',
  '9007199254740992',
  '1e400',
  'null',
  'true',
  '{}',
  '[]',
  undefined,
];
const methods = ['"tools/call"', '""', '1', 'null', '{}', undefined];
const params = [
  '{}',
  '{"name":"whoami","arguments":{}}',
  '{"_meta":{}}',
  '{"_meta":null}',
  '{"_meta":{"progressToken":1.5}}',
  '{"_meta":{"progressToken":"t"}}',
  '{"_meta":[]}',
  '[]',
  'null',
  '"x"',
  '1',
  undefined,
];
const extras = ['', ',"extra":1', ',"result":{}', ',"error":{}', ',"__proto__":{"x":1}', ',"constructor":1'];

function messages(): string[] {
  const out: string[] = [];
  for (const j of jsonrpc)
    for (const id of ids)
      for (const method of methods)
        for (const param of params)
          for (const extra of extras) {
            const parts = [
              j !== undefined && `"jsonrpc":${j}`,
              id !== undefined && `"id":${id}`,
              method !== undefined && `"method":${method}`,
              param !== undefined && `"params":${param}`,
            ].filter(Boolean);
            out.push(`{${parts.join(',')}${parts.length ? extra : extra.slice(1)}}`);
          }
  return out;
}

describe('isJsonRpcMessage', () => {
  it("answers as the SDK's schemas do, for every combination of valid and invalid parts", () => {
    const all = messages();
    expect(all.length).toBeGreaterThan(20_000);
    let accepted = 0;
    const disagreements: string[] = [];
    for (const text of all) {
      const message = JSON.parse(text) as Record<string, unknown>;
      const expected = sdk(message);
      if (expected) accepted++;
      if (isJsonRpcMessage(message) !== expected) disagreements.push(text);
    }
    expect(disagreements).toEqual([]);
    // Both answers occur often (the comparison is not all one way).
    expect(accepted).toBeGreaterThan(50);
    expect(all.length - accepted).toBeGreaterThan(500);
  });

  it('takes the common tools/call without the schema (same answer)', () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
    expect(isJsonRpcMessage(call)).toBe(true);
    expect(isJsonRpcMessage({ jsonrpc: '2.0', method: 'notifications/initialized' })).toBe(true);
    expect(isJsonRpcMessage({ jsonrpc: '2.0', id: 1.5, method: 'x' })).toBe(false);
    expect(isJsonRpcMessage({ jsonrpc: '2.0', id: 1, method: 'x', extra: true })).toBe(false);
  });
});
