/** Injection token for the fetch implementation the MCP module uses to reach AuthKit and the upstream. */
export const MCP_FETCH = Symbol('MCP_FETCH');
export type FetchFn = typeof fetch;

export interface FetchedDocument {
  status: number;
  /** The body exactly as received. */
  text: string;
  json: unknown;
}

export class FetchError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FetchError';
  }
}

/**
 * GETs a small JSON document: a time limit, no redirects followed, a size cap, and errors whose
 * messages name the URL and the reason (they end up in /readyz and the log, never in responses
 * to MCP clients).
 */
export async function fetchJson(
  fetchFn: FetchFn,
  url: string,
  options: { timeoutMs: number; maxBytes?: number },
): Promise<FetchedDocument> {
  const maxBytes = options.maxBytes ?? 512 * 1024;
  let res: Response;
  try {
    res = await fetchFn(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    const reason =
      (err as Error)?.name === 'TimeoutError'
        ? `no answer within ${options.timeoutMs} ms`
        : ((err as Error)?.cause as Error | undefined)?.message || (err as Error)?.message || 'network error';
    throw new FetchError(`GET ${url} failed: ${reason}`, undefined, { cause: err });
  }
  const text = await res.text();
  if (text.length > maxBytes) throw new FetchError(`GET ${url}: the answer is larger than ${maxBytes} bytes`);
  if (res.status !== 200) throw new FetchError(`GET ${url} answered ${res.status}`, res.status);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FetchError(`GET ${url} did not answer JSON`, res.status, { cause: err });
  }
  return { status: res.status, text, json };
}
