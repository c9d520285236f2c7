import { FakeClock, FakeFetch } from '../../../test/mcp/keys';
import { loadConfig } from '../../config/app-config';
import type { Clock } from '../clock';
import { mcpSettingsFrom } from '../mcp-settings';
import { audienceWarnings } from '../mcp-startup';
import { AuthkitMetadataService, MetadataUnavailableError } from './authkit-metadata.service';

const ISSUER = 'https://acme.authkit.app';
const URL_AS = `${ISSUER}/.well-known/oauth-authorization-server`;
const settings = mcpSettingsFrom(
  loadConfig({
    PUBLIC_URL: 'https://bridge.example.com',
    AUTHKIT_DOMAIN: ISSUER,
    WORKOS_CLIENT_ID: 'client_1',
  }),
);

describe('AuthkitMetadataService', () => {
  let clock: FakeClock;
  let fetch: FakeFetch;
  let service: AuthkitMetadataService;

  beforeEach(() => {
    clock = new FakeClock();
    fetch = new FakeFetch();
    fetch.documents.set(URL_AS, { issuer: ISSUER, authorization_endpoint: `${ISSUER}/oauth2/authorize` });
    service = new AuthkitMetadataService(settings, fetch.fn, clock as unknown as Clock);
  });

  it('serves the document as received and caches it for the TTL', async () => {
    const doc = await service.get('oauth-authorization-server');
    expect(doc.text).toBe(
      JSON.stringify({ issuer: ISSUER, authorization_endpoint: `${ISSUER}/oauth2/authorize` }),
    );
    await service.get('oauth-authorization-server');
    expect(fetch.count(URL_AS)).toBe(1);
    clock.advance(settings.metadataTtlMs + 1);
    await service.get('oauth-authorization-server'); // stale: served, refreshed behind
    await new Promise((r) => setImmediate(r));
    expect(fetch.count(URL_AS)).toBe(2);
  });

  it('keeps serving the last good document while AuthKit is unreachable, for up to an hour', async () => {
    await service.get('oauth-authorization-server');
    fetch.failing = true;
    clock.advance(30 * 60_000);
    await expect(service.get('oauth-authorization-server')).resolves.toMatchObject({
      json: { issuer: ISSUER },
    });
    clock.advance(31 * 60_000);
    await expect(service.get('oauth-authorization-server')).rejects.toBeInstanceOf(MetadataUnavailableError);
  });

  it('confirms an issuer equal byte for byte', async () => {
    await expect(service.checkIssuer()).resolves.toEqual({ issuer: ISSUER });
  });

  it.each([`${ISSUER}/`, 'https://ACME.authkit.app', 'https://other.authkit.app', undefined])(
    'refuses the advertised issuer %j with an explicit reason',
    async (advertised) => {
      fetch.documents.set(URL_AS, { issuer: advertised });
      await expect(service.checkIssuer()).rejects.toThrow(
        `AuthKit metadata issuer ${JSON.stringify(advertised)} does not equal AUTHKIT_DOMAIN "${ISSUER}" byte for byte`,
      );
    },
  );

  it('fails the check with the reason when AuthKit cannot be reached', async () => {
    fetch.failing = true;
    await expect(service.checkIssuer()).rejects.toThrow(
      /oauth-authorization-server failed: connect ECONNREFUSED/,
    );
  });
});

describe('audienceWarnings', () => {
  it('is quiet for the default audience', () => {
    expect(audienceWarnings(settings)).toEqual([]);
  });

  it('warns loudly when the bare client id is accepted, and how to fix it', () => {
    const [warning] = audienceWarnings({ ...settings, audiences: [settings.resourceUrl, 'client_1'] });
    expect(warning).toMatch(/accepts the bare client id "client_1"/);
    expect(warning).toMatch(/resource indicator/);
    expect(warning).toContain('https://bridge.example.com/mcp');
  });

  it('warns when the canonical resource is not accepted', () => {
    expect(audienceWarnings({ ...settings, audiences: ['https://other/mcp'] })[0]).toMatch(
      /does not include https:\/\/bridge.example.com\/mcp/,
    );
  });
});
