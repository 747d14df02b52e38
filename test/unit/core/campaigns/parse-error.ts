/** Helpers of the campaigns.yaml tests. */
import { CampaignDefinitionError, parseCampaigns } from '../../../../services/core/campaigns';

export const FILE = 'config/campaigns.yaml';

/** The CampaignDefinitionError parseCampaigns throws for `text`; fails the test when it throws none. */
export function parseError(text: string): CampaignDefinitionError {
  try {
    parseCampaigns(FILE, text);
  } catch (error) {
    if (error instanceof CampaignDefinitionError) return error;
    throw error;
  }
  throw new Error('expected parseCampaigns to throw');
}
