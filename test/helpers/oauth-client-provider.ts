import { randomBytes } from 'node:crypto';

/** What the SDK hands over to keep (typed loosely: each SDK generation has its own types). */
type Stored = Record<string, unknown> | undefined;

export interface MemoryOAuthProviderOptions {
  /** The client_name in the client metadata. */
  name: string;
  redirectUrl: string;
  /** A `scope` for the client metadata (what dynamic registration asks for). */
  scope?: string;
  /** Use a Client ID Metadata Document at this https URL instead of dynamic registration. */
  clientMetadataUrl?: string;
  /** The resource indicator to send, chosen through validateResourceURL. */
  resource?: string;
  /**
   * Add `offline_access` to the authorization request. The v1 SDK (1.32) asks for exactly the
   * scopes of the 401 challenge, which (per the MCP spec) never names offline_access, so it
   * gets no refresh token; an application built on v1 that wants to stay signed in adds it.
   */
  addOfflineAccess?: boolean;
  /**
   * The user agent: takes the authorization URL to the client's redirect URI and returns what
   * came back there. Without it, redirectToAuthorization only records the URL.
   */
  authorize?: (url: URL) => Promise<{ code: string | null; state: string | null }>;
}

/**
 * An in-memory OAuthClientProvider, structurally valid for both official MCP SDK clients
 * (v1 `@modelcontextprotocol/sdk`, v2 `@modelcontextprotocol/client`): it keeps whatever the SDK
 * saves, records each authorization URL, and (given `authorize`) checks the state that comes
 * back and keeps the code for transport.finishAuth().
 */
export class MemoryOAuthProvider {
  readonly authorizations: URL[] = [];
  /** The code of the last authorization. */
  code?: string;
  /** The state of the last authorization request. */
  stateValue = '';
  clientInfo: Stored;
  savedTokens: Stored;
  readonly clientMetadataUrl?: string;
  readonly validateResourceURL?: () => Promise<URL>;
  private verifier = '';
  private discovery: Stored;

  constructor(private readonly options: MemoryOAuthProviderOptions) {
    this.clientMetadataUrl = options.clientMetadataUrl;
    const { resource } = options;
    if (resource) this.validateResourceURL = async () => new URL(resource);
  }

  get redirectUrl(): string {
    return this.options.redirectUrl;
  }
  get clientMetadata() {
    return {
      client_name: this.options.name,
      redirect_uris: [this.options.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      ...(this.options.scope && { scope: this.options.scope }),
    };
  }
  /** The document a CIMD client publishes at its clientMetadataUrl. */
  metadataDocument() {
    return { client_id: this.clientMetadataUrl, ...this.clientMetadata };
  }
  get accessToken(): string | undefined {
    return this.savedTokens?.access_token as string | undefined;
  }

  state() {
    this.stateValue = randomBytes(12).toString('base64url');
    return this.stateValue;
  }
  clientInformation() {
    return this.clientInfo as never;
  }
  saveClientInformation(info: object) {
    this.clientInfo = info as Stored;
  }
  tokens() {
    return this.savedTokens as never;
  }
  saveTokens(tokens: object) {
    this.savedTokens = tokens as Stored;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: object) {
    this.discovery = state as Stored;
  }
  discoveryState() {
    return this.discovery as never;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizations.push(new URL(url));
    if (!this.options.authorize) return;
    const target = new URL(url);
    const scope = target.searchParams.get('scope')?.split(' ') ?? [];
    if (this.options.addOfflineAccess && !scope.includes('offline_access'))
      target.searchParams.set('scope', [...scope, 'offline_access'].join(' '));
    const back = await this.options.authorize(target);
    if (back.state !== this.stateValue) throw new Error(`state mismatch: ${back.state} ≠ ${this.stateValue}`);
    if (!back.code) throw new Error('no code came back to the redirect URI');
    this.code = back.code;
  }
}
