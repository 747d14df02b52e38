/** Campaign definitions and the pure choice of one message per trigger. */
export { parseCampaigns, validateCampaignTemplates, campaignTemplateNames, variantSubjects, variantSubjectId, CampaignDefinitionError, BUILT_IN_DEFAULTS } from './definition';
export { chooseCampaign, type ChooseInput, type Decision, type SendHistory, type SuppressionReason } from './choose';
export { chooseVariant } from './variants';
export { offerFor, type RenderOfferFields } from './offer';
export { quietHoursEnd, resolveTimeZone } from './quiet-hours';
export type { Campaign, CampaignCaps, Eligibility, FrequencyCap, Offer, ProfileCondition, QuietHours, Variant } from './model';
