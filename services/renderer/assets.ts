/**
 * Campaigns and templates read from disk and checked together at start-up. Any mistake throws
 * the core's CampaignDefinitionError or TemplateCompileError, naming the file, field and line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { campaignTemplateNames, CampaignDefinitionError, parseCampaigns, validateCampaignBlocks, validateCampaignTemplates, variantSubjects, type Campaign } from '../core/campaigns';
import { compileTemplates, type TemplateFile, type TemplateSet } from '../core/templates';
import { configPath, readConfigFile } from '../kit/files';

export interface RendererAssets {
  campaigns: Campaign[];
  templates: TemplateSet;
  /** How long a customer's sends must be remembered: the longest cap window or cooldown. */
  historyMs: number;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]));
}

export function readTemplateFiles(dir: string): TemplateFile[] {
  const root = configPath(dir);
  let files: string[];
  try {
    files = walk(root);
  } catch (error) {
    throw new Error(`cannot read the templates folder ${root}: ${(error as Error).message}; set TEMPLATES_DIR to an existing folder`);
  }
  return files.map((file) => ({ path: relative(root, file), text: readFileSync(file, 'utf8') }));
}

/** Partials that exist in both flavours (partials/<name>.hbs and <name>.text.hbs): the blocks a block_order may list. */
export function partialNames(files: readonly TemplateFile[]): string[] {
  const paths = new Set(files.map((file) => file.path.replace(/\\/g, '/')));
  return [...paths].flatMap((path) => {
    const match = /^partials\/([^/]+)\.hbs$/.exec(path);
    return match !== null && !match[1].endsWith('.text') && paths.has(`partials/${match[1]}.text.hbs`) ? [match[1]] : [];
  });
}

/**
 * A campaign whose experiment varies the block order must render with templates that place
 * their blocks through {{> blocks}} in both parts, or the variable would change nothing.
 */
function requireBlocksSection(campaigns: readonly Campaign[], files: readonly TemplateFile[]): void {
  const uses = /\{\{~?>\s*blocks[\s}~]/;
  for (const campaign of campaigns) {
    const variables = campaign.experiment?.variables ?? [];
    if (!variables.some((variable) => variable.kind === 'block_order')) continue;
    for (const template of campaignTemplateNames(campaign)) {
      for (const part of ['html', 'text']) {
        const file = files.find((candidate) => candidate.path.replace(/\\/g, '/') === `emails/${template}/${part}.hbs`);
        if (file !== undefined && !uses.test(file.text)) {
          const message = `campaign "${campaign.name}": its experiment varies block_order, but emails/${template}/${part}.hbs does not render {{> blocks}}; write {{#if blocks}}{{> blocks}}{{else}}...{{/if}} where its blocks go`;
          throw new CampaignDefinitionError(message, '', campaign.name, 'experiment');
        }
      }
    }
  }
}

/** Reads, parses, compiles and cross-checks campaigns and templates. */
export function loadRendererAssets(campaignsFile: string, templatesDir: string): RendererAssets {
  const { path, text } = readConfigFile(campaignsFile);
  const campaigns = parseCampaigns(path, text);
  const files = readTemplateFiles(templatesDir);
  const templates = compileTemplates(files, { subjects: variantSubjects(campaigns) });
  try {
    validateCampaignTemplates(campaigns, templates.names);
    validateCampaignBlocks(campaigns, partialNames(files));
    requireBlocksSection(campaigns, files);
  } catch (error) {
    if (error instanceof CampaignDefinitionError) throw new CampaignDefinitionError(`${path}: ${error.message}`, path, error.campaign, error.field);
    throw error;
  }
  const historyMs = Math.max(3_600_000, ...campaigns.flatMap((c) => [c.caps.frequencyCap.perMs, c.caps.cooldownMs ?? 0]));
  return { campaigns, templates, historyMs };
}
