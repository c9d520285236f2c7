/** One `tools/call whoami` on `mcpUrl` with a bearer token: the status and the challenge, body read. */
export async function whoamiCall(
  mcpUrl: string,
  token: string,
): Promise<{ status: number; challenge: string }> {
  const res = await fetch(mcpUrl, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami' } }),
  });
  await res.arrayBuffer();
  return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '' };
}
