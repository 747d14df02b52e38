/**
 * A campaign's experiment as a design the renderer assigns from and the results service reads:
 * its id (which changes whenever anything in the design changes, so results never mix), its
 * arms with their shares, and the deterministic, sticky assignment of a customer (or trigger)
 * to the holdout or one arm. See docs/experiments.md, "Assignment".
 */
import { createHash } from 'node:crypto';
import type { ArmSettings, Campaign, CampaignExperiment, VariableKind } from './model';

export type { VariableKind } from './model';

/** One combination of levels, one per variable. */
export interface ExperimentArm {
  /** The level name (one variable) or the level names joined with "+" in the variables' file order. */
  name: string;
  /** Variable name -> level name. */
  variables: Record<string, string>;
  /** Share of ALL assigned customers (holdout included); arms' shares + holdoutShare = 1. */
  share: number;
}

export interface ExperimentDesign {
  /** `<campaign>.<experiment name>.<first 8 hex of sha256 of the canonical design>`. */
  id: string;
  campaign: string;
  name: string;
  holdoutShare: number;
  key: 'customer' | 'trigger';
  variables: Array<{ name: string; kind: VariableKind; levels: Array<{ name: string; weight: number }> }>;
  arms: ExperimentArm[];
}

export type ArmAssignment = { holdout: true } | { holdout: false; arm: ExperimentArm };

/** What a decision carries about the experiment: the design id, the arm (or holdout) and what the arm changes. */
export interface Assignment {
  experiment: string;
  holdout: boolean;
  /** The arm name; null for the holdout. */
  arm: string | null;
  /** Variable name -> level name; empty for the holdout. */
  variables: Record<string, string>;
  /** The arm's settings (levels merged); empty for the holdout. */
  settings: ArmSettings;
}

/** JSON with object keys sorted at every depth, so equal designs hash equally. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The arms as level-name lists: the listed combinations, or the full product in file order. */
export function armLevels(experiment: CampaignExperiment): string[][] {
  if (experiment.combinations !== null) return experiment.combinations;
  return experiment.variables.reduce<string[][]>((arms, variable) => arms.flatMap((prefix) => variable.levels.map((level) => [...prefix, level.name])), [[]]);
}

interface Built {
  design: ExperimentDesign;
  settings: Map<string, ArmSettings>;
  /** Arm weights (products of level weights), parallel to design.arms. */
  weights: number[];
}

const built = new WeakMap<CampaignExperiment, Built>();

function build(campaign: string, experiment: CampaignExperiment): Built {
  const cached = built.get(experiment);
  if (cached !== undefined && cached.design.campaign === campaign) return cached;
  const combos = armLevels(experiment);
  const canonical = canonicalJson({
    name: experiment.name,
    key: experiment.key,
    holdout: experiment.holdoutShare,
    variables: experiment.variables.map((variable) => ({
      name: variable.name,
      kind: variable.kind,
      levels: variable.levels.map((level) => ({ name: level.name, weight: level.weight, value: level.settings })),
    })),
    arms: combos,
  });
  const hex = createHash('sha256').update(canonical).digest('hex').slice(0, 8);
  const settings = new Map<string, ArmSettings>();
  const weights: number[] = [];
  const arms = combos.map((names) => {
    const variables: Record<string, string> = {};
    let weight = 1;
    let merged: ArmSettings = {};
    experiment.variables.forEach((variable, index) => {
      const level = variable.levels.find((candidate) => candidate.name === names[index]);
      if (level === undefined) throw new Error(`experiment ${experiment.name}: no level ${names[index]} in variable ${variable.name}`);
      variables[variable.name] = level.name;
      weight *= level.weight;
      merged = { ...merged, ...level.settings };
    });
    const name = names.join('+');
    settings.set(name, merged);
    weights.push(weight);
    return { name, variables, share: 0 };
  });
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  arms.forEach((arm, index) => {
    arm.share = ((1 - experiment.holdoutShare) * weights[index]) / total;
  });
  const design: ExperimentDesign = {
    id: `${campaign}.${experiment.name}.${hex}`,
    campaign,
    name: experiment.name,
    holdoutShare: experiment.holdoutShare,
    key: experiment.key,
    variables: experiment.variables.map((variable) => ({ name: variable.name, kind: variable.kind, levels: variable.levels.map((level) => ({ name: level.name, weight: level.weight })) })),
    arms,
  };
  const result = { design, settings, weights };
  built.set(experiment, result);
  return result;
}

/** The campaign's experiment design, or null when it has none. */
export function experimentOf(campaign: Campaign): ExperimentDesign | null {
  return campaign.experiment === null ? null : build(campaign.name, campaign.experiment).design;
}

/** What an arm of the campaign's experiment changes; null when there is no such arm. */
export function armSettings(campaign: Campaign, armName: string): ArmSettings | null {
  if (campaign.experiment === null) return null;
  return build(campaign.name, campaign.experiment).settings.get(armName) ?? null;
}

/** A uniform number in [0, 1) from sha256 of the parts (48 bits: plenty for any share). */
function uniform(...parts: string[]): number {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/**
 * The holdout or the arm for these ids: deterministic, so a replay or a later send (customer
 * key) lands in the same place while the design (and so its id) is unchanged. The holdout and
 * the arm are drawn from separate hashes, so whether a customer is held out says nothing about
 * which arm they would have had. Weights may be any positive numbers: the draw is a float.
 */
export function assignArm(design: ExperimentDesign, ids: { customerId: string; triggerId: string }): ArmAssignment {
  const key = design.key === 'customer' ? ids.customerId : ids.triggerId;
  if (design.holdoutShare > 0 && uniform(design.id, 'holdout', key) < design.holdoutShare) return { holdout: true };
  const total = design.arms.reduce((sum, arm) => sum + arm.share, 0);
  let point = uniform(design.id, 'arm', key) * total;
  for (const arm of design.arms) {
    if (point < arm.share) return { holdout: false, arm };
    point -= arm.share;
  }
  return { holdout: false, arm: design.arms[design.arms.length - 1] };
}

/** The campaign's assignment for these ids with what the arm changes, or null without an experiment. */
export function assignmentFor(campaign: Campaign, ids: { customerId: string; triggerId: string }): Assignment | null {
  if (campaign.experiment === null) return null;
  const { design, settings } = build(campaign.name, campaign.experiment);
  const assigned = assignArm(design, ids);
  if (assigned.holdout) return { experiment: design.id, holdout: true, arm: null, variables: {}, settings: {} };
  return { experiment: design.id, holdout: false, arm: assigned.arm.name, variables: assigned.arm.variables, settings: settings.get(assigned.arm.name) ?? {} };
}

/**
 * The id under which a subject or preheader level is compiled and rendered. A legacy variant's
 * subject keeps its old id (`campaign/variant`).
 */
export function overrideId(campaign: string, experiment: CampaignExperiment, variable: string, level: string): string {
  return experiment.legacy ? `${campaign}/${level}` : `${campaign}/${experiment.name}/${variable}/${level}`;
}

/** The override ids an arm renders with (subject, preheader), or null where the template's own part is used. */
export function armOverrides(campaign: Campaign, variables: Record<string, string>): { subject: string | null; preheader: string | null } {
  const experiment = campaign.experiment;
  const result = { subject: null as string | null, preheader: null as string | null };
  if (experiment === null) return result;
  for (const variable of experiment.variables) {
    const level = variable.levels.find((candidate) => candidate.name === variables[variable.name]);
    if (level === undefined) continue;
    if (level.settings.subject !== undefined) result.subject = overrideId(campaign.name, experiment, variable.name, level.name);
    if (level.settings.preheader !== undefined) result.preheader = overrideId(campaign.name, experiment, variable.name, level.name);
  }
  return result;
}
