import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock } from '../clock';
import { fetchJson, MCP_FETCH, type FetchedDocument, type FetchFn } from '../http/fetch-json';
import { MCP_SETTINGS, type McpSettings } from '../mcp-settings';

export type MetadataKind = 'oauth-authorization-server' | 'openid-configuration';

export class MetadataUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetadataUnavailableError';
  }
}

interface Cached {
  doc: FetchedDocument;
  fetchedAt: number;
}

/**
 * AuthKit's discovery documents, fetched from the issuer and kept for `metadataTtlMs`. A stale
 * document is served while a fresh one is fetched in the background; when AuthKit cannot be
 * reached the last good document is served for up to an hour. Also the issuer self-check.
 */
@Injectable()
export class AuthkitMetadataService {
  static readonly STALE_LIMIT_MS = 60 * 60_000;

  private readonly logger = new Logger('AuthKitMetadata');
  private readonly cache = new Map<MetadataKind, Cached>();
  private readonly inflight = new Map<MetadataKind, Promise<Cached>>();
  private readonly failures = new Map<MetadataKind, string>();

  constructor(
    @Inject(MCP_SETTINGS) private readonly settings: McpSettings,
    @Inject(MCP_FETCH) private readonly fetchFn: FetchFn,
    private readonly clock: Clock,
  ) {}

  /** The document as AuthKit served it (bytes unchanged) and parsed. */
  async get(kind: MetadataKind): Promise<FetchedDocument> {
    const cached = this.cache.get(kind);
    const age = cached ? this.clock.now() - cached.fetchedAt : Infinity;
    if (cached && age < this.settings.metadataTtlMs) return cached.doc;
    if (cached && age < AuthkitMetadataService.STALE_LIMIT_MS) {
      this.load(kind).catch(() => undefined);
      return cached.doc;
    }
    return (await this.load(kind)).doc;
  }

  /**
   * Compares AuthKit's advertised `issuer` with AUTHKIT_DOMAIN byte for byte: clients derive the
   * issuer from our metadata and strict ones refuse a mismatch (a trailing slash is enough).
   * Resolves with the issuer, or rejects with an explicit reason.
   */
  async checkIssuer(): Promise<{ issuer: string }> {
    const expected = this.settings.issuer;
    if (!expected) throw new Error('AUTHKIT_DOMAIN is not configured');
    const { json } = await this.get('oauth-authorization-server');
    const advertised = (json as { issuer?: unknown })?.issuer;
    if (advertised !== expected) {
      throw new Error(
        `AuthKit metadata issuer ${JSON.stringify(advertised)} does not equal AUTHKIT_DOMAIN ${JSON.stringify(expected)} ` +
          'byte for byte; MCP clients will refuse the authorization server. Set AUTHKIT_DOMAIN to the advertised issuer.',
      );
    }
    return { issuer: expected };
  }

  private load(kind: MetadataKind): Promise<Cached> {
    let pending = this.inflight.get(kind);
    if (!pending) {
      pending = this.fetch(kind).finally(() => this.inflight.delete(kind));
      this.inflight.set(kind, pending);
    }
    return pending;
  }

  private async fetch(kind: MetadataKind): Promise<Cached> {
    const issuer = this.settings.issuer;
    if (!issuer) throw new MetadataUnavailableError('AUTHKIT_DOMAIN is not configured');
    try {
      const doc = await fetchJson(this.fetchFn, `${issuer}/.well-known/${kind}`, {
        timeoutMs: this.settings.fetchTimeoutMs,
      });
      if (!doc.json || typeof doc.json !== 'object' || Array.isArray(doc.json)) {
        throw new Error(`${issuer}/.well-known/${kind} is not a JSON object`);
      }
      const entry = { doc, fetchedAt: this.clock.now() };
      this.cache.set(kind, entry);
      this.failures.delete(kind);
      return entry;
    } catch (err) {
      const message = (err as Error).message;
      if (this.failures.get(kind) !== message) this.logger.warn(`AuthKit metadata unavailable: ${message}`);
      this.failures.set(kind, message);
      throw new MetadataUnavailableError(message, { cause: err });
    }
  }
}
