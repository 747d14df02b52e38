/**
 * The results' JSON from summed counters and the configured designs: what GET /results/...
 * answers and what the CLI prints. Pure: the counters come in, nothing is read here.
 */
import { experimentOf, parseCampaigns, type ExperimentDesign } from '../core/campaigns';
import { parseCellKey } from '../core/experiments/attribution';
import { addCounters, emptyCounters, type ArmCounters, type ArmInput, type ArmRates, type ExperimentReport } from '../core/experiments/model';
import { armRates, experimentReport } from '../core/experiments/report';
import { readConfigFile } from '../kit/files';

/** A query the data cannot answer (unknown campaign, experiment or segment): the message names it and lists the known ones. */
export class ResultsQueryError extends Error {
  constructor(
    message: string,
    readonly parameter: 'campaign' | 'experiment' | 'segment',
  ) {
    super(message);
  }
}

/** The configured experiments: by id (current designs only: an id no longer configured has no shares). */
export interface Designs {
  /** Campaign names of the file, in file order. */
  campaigns: string[];
  byId: Map<string, ExperimentDesign>;
}

export function designsOf(campaigns: ReadonlyArray<Parameters<typeof experimentOf>[0]>): Designs {
  const byId = new Map<string, ExperimentDesign>();
  for (const campaign of campaigns) {
    const design = experimentOf(campaign);
    if (design !== null) byId.set(design.id, design);
  }
  return { campaigns: campaigns.map((c) => c.name), byId };
}

/** Reads CAMPAIGNS_FILE; throws naming the file, campaign and field on a mistake. */
export function loadDesigns(file: string): Designs {
  const { path, text } = readConfigFile(file);
  return designsOf(parseCampaigns(path, text));
}

/** "<campaign>.<name>.<hex>" -> name; "-" (no experiment) stays "-". */
function experimentName(id: string): string {
  const parts = id.split('.');
  return parts.length >= 3 ? parts.slice(1, -1).join('.') : id;
}

export interface ArmFigures {
  name: string;
  holdout: boolean;
  counters: ArmCounters;
  rates: ArmRates;
}

export interface ExperimentResults {
  /** The experiment id, or "-" for sends outside any experiment. */
  id: string;
  name: string;
  /** False when CAMPAIGNS_FILE no longer has this design: no expected shares, no SRM check. */
  in_config: boolean;
  holdout_share: number | null;
  variables: Array<{ name: string; kind: string; levels: string[] }>;
  /** The segment of `report` ("*" = every send). */
  segment: string;
  report: ExperimentReport;
  /** Per segment the customers were in at send time: the arms' figures. */
  by_segment: Array<{ segment: string; arms: ArmFigures[] }>;
}

export interface CampaignResults {
  campaign: string;
  in_config: boolean;
  segment: string;
  experiments: ExperimentResults[];
}

export interface CampaignSummary {
  campaign: string;
  in_config: boolean;
  /** Every send of the campaign (all experiments and arms, holdout included). */
  totals: ArmCounters;
  experiments: Array<{ id: string; name: string; in_config: boolean; arms: string[]; sent: number }>;
}

interface Grouped {
  /** experiment -> arm -> segment -> counters */
  byExperiment: Map<string, Map<string, Map<string, ArmCounters>>>;
  segments: Set<string>;
}

function group(cells: Map<string, ArmCounters>): Grouped {
  const byExperiment = new Map<string, Map<string, Map<string, ArmCounters>>>();
  const segments = new Set<string>();
  for (const [key, counters] of cells) {
    const { experiment, arm, segment } = parseCellKey(key);
    const arms = byExperiment.get(experiment) ?? new Map<string, Map<string, ArmCounters>>();
    const bySegment = arms.get(arm) ?? new Map<string, ArmCounters>();
    bySegment.set(segment, counters);
    arms.set(arm, bySegment);
    byExperiment.set(experiment, arms);
    if (segment !== '*') segments.add(segment);
  }
  return { byExperiment, segments };
}

/** The experiments of a campaign: the configured design first (even before any send), then the counted ones. */
function experimentIds(campaign: string, grouped: Grouped, designs: Designs): string[] {
  const configured = [...designs.byId.values()].filter((d) => d.campaign === campaign).map((d) => d.id);
  return [...new Set([...configured, ...[...grouped.byExperiment.keys()].sort()])];
}

/** Arm order: the design's arms, its holdout, then any other arm counted (a design no longer configured). */
function armNames(id: string, grouped: Grouped, design: ExperimentDesign | undefined): string[] {
  const designed = design === undefined ? [] : [...design.arms.map((a) => a.name), ...(design.holdoutShare > 0 ? ['holdout'] : [])];
  const counted = [...(grouped.byExperiment.get(id)?.keys() ?? [])].sort((a, b) => (a === 'holdout' ? 1 : b === 'holdout' ? -1 : a < b ? -1 : a > b ? 1 : 0));
  return [...new Set([...designed, ...counted])];
}

export function campaignSummary(campaign: string, cells: Map<string, ArmCounters>, designs: Designs): CampaignSummary {
  const grouped = group(cells);
  let totals = emptyCounters();
  const experiments = experimentIds(campaign, grouped, designs).map((id) => {
    const arms = armNames(id, grouped, designs.byId.get(id));
    let sent = 0;
    for (const arm of arms) {
      const counters = grouped.byExperiment.get(id)?.get(arm)?.get('*');
      if (counters === undefined) continue;
      sent += counters.sent;
      totals = addCounters(totals, counters);
    }
    return { id, name: experimentName(id), in_config: designs.byId.has(id), arms, sent };
  });
  return { campaign, in_config: designs.campaigns.includes(campaign), totals, experiments };
}

/** One campaign's results; throws ResultsQueryError for an experiment or segment it does not have. */
export function campaignResults(
  campaign: string,
  cells: Map<string, ArmCounters>,
  designs: Designs,
  query: { experiment?: string; segment?: string; confidence?: number } = {},
): CampaignResults {
  const grouped = group(cells);
  let ids = experimentIds(campaign, grouped, designs);
  if (query.experiment !== undefined) {
    if (!ids.includes(query.experiment)) {
      throw new ResultsQueryError(`campaign ${campaign} has no experiment "${query.experiment}"; known: ${ids.join(', ') || '(none)'}`, 'experiment');
    }
    ids = [query.experiment];
  }
  const segment = query.segment ?? '*';
  if (segment !== '*' && !grouped.segments.has(segment)) {
    throw new ResultsQueryError(
      `campaign ${campaign} counted no send in segment "${segment}"; segments with sends: ${[...grouped.segments].sort().join(', ') || '(none)'}`,
      'segment',
    );
  }
  const experiments = ids.map((id): ExperimentResults => {
    const design = designs.byId.get(id);
    const arms = armNames(id, grouped, design);
    const countersOf = (arm: string, seg: string) => grouped.byExperiment.get(id)?.get(arm)?.get(seg) ?? emptyCounters();
    const inputs: ArmInput[] = arms.map((arm) => {
      const designed = design?.arms.find((a) => a.name === arm);
      const expectedShare = design === undefined ? null : arm === 'holdout' ? design.holdoutShare : (designed?.share ?? null);
      return { name: arm, holdout: arm === 'holdout', expectedShare, variables: designed?.variables ?? {}, counters: countersOf(arm, segment) };
    });
    const segments = [...grouped.segments].filter((s) => arms.some((arm) => grouped.byExperiment.get(id)?.get(arm)?.has(s))).sort();
    return {
      id,
      name: experimentName(id),
      in_config: design !== undefined,
      holdout_share: design?.holdoutShare ?? null,
      variables: design?.variables.map((v) => ({ name: v.name, kind: v.kind, levels: v.levels.map((l) => l.name) })) ?? [],
      segment,
      report: experimentReport({ arms: inputs, ...(query.confidence === undefined ? {} : { confidence: query.confidence }) }),
      by_segment: segments.map((s) => ({
        segment: s,
        arms: arms.map((arm) => {
          const counters = countersOf(arm, s);
          return { name: arm, holdout: arm === 'holdout', counters, rates: armRates(counters, query.confidence) };
        }),
      })),
    };
  });
  return { campaign, in_config: designs.campaigns.includes(campaign), segment, experiments };
}

/** The campaigns there is something to say about: counted ones and configured ones. */
export function knownCampaigns(counted: Map<string, number>, designs: Designs): string[] {
  return [...new Set([...designs.campaigns, ...[...counted.keys()].sort()])];
}

/** Throws ResultsQueryError naming the known campaigns when `campaign` is not one. */
export function requireCampaign(campaign: string, known: readonly string[]): void {
  if (!known.includes(campaign)) throw new ResultsQueryError(`unknown campaign "${campaign}"; known: ${known.join(', ') || '(none)'}`, 'campaign');
}
