/**
 * Campaigns and templates read from disk and checked together at start-up. Any mistake throws
 * the core's CampaignDefinitionError or TemplateCompileError, naming the file, field and line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CampaignDefinitionError, parseCampaigns, validateCampaignTemplates, variantSubjects, type Campaign } from '../core/campaigns';
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

/** Reads, parses, compiles and cross-checks campaigns and templates. */
export function loadRendererAssets(campaignsFile: string, templatesDir: string): RendererAssets {
  const { path, text } = readConfigFile(campaignsFile);
  const campaigns = parseCampaigns(path, text);
  const templates = compileTemplates(readTemplateFiles(templatesDir), { subjects: variantSubjects(campaigns) });
  try {
    validateCampaignTemplates(campaigns, templates.names);
  } catch (error) {
    if (error instanceof CampaignDefinitionError) throw new CampaignDefinitionError(`${path}: ${error.message}`, path, error.campaign, error.field);
    throw error;
  }
  const historyMs = Math.max(3_600_000, ...campaigns.flatMap((c) => [c.caps.frequencyCap.perMs, c.caps.cooldownMs ?? 0]));
  return { campaigns, templates, historyMs };
}
