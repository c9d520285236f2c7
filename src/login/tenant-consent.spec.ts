import type { UserConsentOption } from '@workos-inc/node';
import { consentOptionsFor, MAX_TENANT_CHOICES } from './tenant-consent';

const acme = { id: 't-acme', name: 'Acme' };
const globex = { id: 't-globex', name: 'Globex' };
const environment: UserConsentOption = {
  claim: 'urn:example:env',
  type: 'enum',
  label: 'Environment',
  choices: [{ value: 'prod', label: 'Production' }],
};

describe('consentOptionsFor', () => {
  it('asks "Workspace" when the person has more than one tenant, after the configured options', () => {
    expect(consentOptionsFor([acme, globex], [environment])).toEqual({
      options: [
        environment,
        {
          claim: 'tenant',
          type: 'enum',
          label: 'Workspace',
          choices: [
            { value: 't-acme', label: 'Acme' },
            { value: 't-globex', label: 'Globex' },
          ],
        },
      ],
      overridden: false,
      leftOff: 0,
    });
  });

  it.each([[undefined], [[]], [[acme]]])('asks nothing with the tenants %p', (tenants) => {
    expect(consentOptionsFor(tenants, [environment])).toEqual({
      options: [environment],
      overridden: false,
      leftOff: 0,
    });
    expect(consentOptionsFor(tenants).options).toEqual([]);
  });

  it("keeps an operator's own tenant option and says so", () => {
    const own: UserConsentOption = { ...environment, claim: 'tenant', label: 'Region' };
    expect(consentOptionsFor([acme, globex], [own])).toEqual({
      options: [own],
      overridden: true,
      leftOff: 0,
    });
  });

  it('offers the first 50 tenants and counts the rest; shortens long names', () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, name: `Tenant ${i}` }));
    many[0].name = 'N'.repeat(150);
    const consent = consentOptionsFor(many);
    expect(consent.leftOff).toBe(10);
    const [option] = consent.options;
    expect(option.choices).toHaveLength(MAX_TENANT_CHOICES);
    expect(option.choices[0].label).toBe(`${'N'.repeat(99)}…`);
    expect(option.choices.at(-1)).toEqual({ value: 't49', label: 'Tenant 49' });
  });

  it('does not change the configured list it was given', () => {
    const configured = [environment];
    consentOptionsFor([acme, globex], configured);
    expect(configured).toEqual([environment]);
  });
});
