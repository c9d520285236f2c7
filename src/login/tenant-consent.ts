import type { UserConsentOption } from '@workos-inc/node';
import type { LegacyTenant } from '../legacy-session/legacy-user';

/** The token claim the chosen tenant arrives in (its id), as ../shared/INTERFACE.md names it. */
export const TENANT_CLAIM = 'tenant';

/**
 * The most choices one consent option carries. AuthKit documents no limit; this is the bridge's
 * own, the same as for AUTHKIT_USER_CONSENT_OPTIONS (checked at boot), and a longer list is no
 * longer a choice a person makes on a consent screen anyway.
 */
export const MAX_TENANT_CHOICES = 50;

/** Longest label of a choice (as for AUTHKIT_USER_CONSENT_OPTIONS); longer names are shortened. */
const MAX_LABEL = 100;

export interface TenantConsent {
  /** What the completion sends: the configured options, plus the tenant question when it is asked. */
  options: UserConsentOption[];
  /** An operator's own `tenant` option stands in for the bridge's (worth a warning). */
  overridden: boolean;
  /** Tenants left off the list (beyond MAX_TENANT_CHOICES). */
  leftOff: number;
}

/**
 * The consent options of one completion. With more than one tenant, AuthKit's consent screen
 * asks which one the AI application may act in ("Workspace"); the choice comes back as the
 * token claim `tenant` (the tenant id). With one tenant or none there is nothing to ask (the
 * bridge takes the only one). An operator who configured a `tenant` option keeps theirs.
 */
export function consentOptionsFor(
  tenants: readonly LegacyTenant[] | undefined,
  configured: readonly UserConsentOption[] = [],
): TenantConsent {
  const options = [...configured];
  const list = tenants ?? [];
  if (list.length < 2) return { options, overridden: false, leftOff: 0 };
  if (configured.some((o) => o.claim === TENANT_CLAIM)) return { options, overridden: true, leftOff: 0 };
  const shown = list.slice(0, MAX_TENANT_CHOICES);
  options.push({
    claim: TENANT_CLAIM,
    type: 'enum',
    label: 'Workspace',
    choices: shown.map((t) => ({ value: t.id, label: shorten(t.name || t.id) })),
  });
  return { options, overridden: false, leftOff: list.length - shown.length };
}

const shorten = (label: string): string =>
  label.length <= MAX_LABEL ? label : `${label.slice(0, MAX_LABEL - 1)}…`;
