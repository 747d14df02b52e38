/** Campaign definitions and the pure choice of one message per trigger. */
export { parseCampaigns, validateCampaignTemplates, validateCampaignBlocks, BLOCK_NAMES, campaignTemplateNames, variantSubjects, variantSubjectId, CampaignDefinitionError, BUILT_IN_DEFAULTS } from './definition';
export { chooseCampaign, chosenEmail, emailForArm, type ChosenEmail, type ChooseInput, type Decision, type SendHistory, type SuppressionReason } from './choose';
export { chooseVariant } from './variants';
export { offerFor, offerFields, type RenderOfferFields } from './offer';
export { quietHoursEnd, resolveTimeZone } from './quiet-hours';
export { experimentOf, assignArm, assignmentFor, armSettings, armOverrides, armLevels, overrideId, type ExperimentArm, type ExperimentDesign, type ArmAssignment, type Assignment } from './experiments';
export type { ArmSettings, CampaignExperiment, ExperimentLevel, ExperimentVariable, RecommendationStrategy, VariableKind, Campaign, CampaignCaps, Eligibility, FrequencyCap, Offer, ProfileCondition, QuietHours, Variant } from './model';
