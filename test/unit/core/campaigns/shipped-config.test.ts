import { readFileSync } from 'node:fs';
import { campaignTemplateNames, parseCampaigns, validateCampaignTemplates, variantSubjects } from '../../../../services/core/campaigns';
import { compileTemplates } from '../../../../services/core/templates';
import { CAMPAIGNS_FILE, shippedTemplateFiles } from '../templates/shipped';

describe('shipped config', () => {
  const campaigns = parseCampaigns('config/campaigns.yaml', readFileSync(CAMPAIGNS_FILE, 'utf8'));
  const templates = compileTemplates(shippedTemplateFiles(), { subjects: variantSubjects(campaigns) });

  it('loads config/campaigns.yaml with the case-study campaigns', () => {
    expect(campaigns.map((campaign) => campaign.name)).toEqual(['exclusive_offer', 'standard_message', 'upsell', 'cart_reminder']);
    const exclusive = campaigns[0];
    expect(exclusive.rules).toContain('segment:high_value_engaged');
    expect(exclusive.eligibility.allSegments).toEqual(['frequent_buyer', 'engaged']);
    expect(exclusive.priority).toBeGreaterThan(campaigns[1].priority);
    expect(campaigns[1].eligibility.anySegments).toEqual(['frequent_buyer', 'engaged']);
    // The upsell takes exactly the customers the two above leave out.
    expect(campaigns[2].rules).toEqual(['high_interest']);
    expect(campaigns[2].eligibility.noneSegments).toEqual(['frequent_buyer', 'engaged']);
  });

  it('compiles config/templates and every campaign template exists', () => {
    expect(templates.names).toEqual(['cart_reminder', 'exclusive_offer', 'standard_message', 'upsell']);
    expect(() => validateCampaignTemplates(campaigns, templates.names)).not.toThrow();
    for (const campaign of campaigns) {
      for (const name of campaignTemplateNames(campaign)) expect(templates.names).toContain(name);
    }
  });

  it('ships every HTML partial with a text twin', () => {
    const paths = shippedTemplateFiles().map((file) => file.path.replace(/\\/g, '/'));
    for (const name of ['hero', 'recommendations', 'cart', 'offer', 'footer', 'recent_purchase']) {
      expect(paths).toContain(`partials/${name}.hbs`);
      expect(paths).toContain(`partials/${name}.text.hbs`);
    }
  });
});
