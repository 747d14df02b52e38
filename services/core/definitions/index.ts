/**
 * The toolkit of definition files (config/triggers.yaml, segments.yaml, campaigns.yaml): YAML
 * parsing, strict mappings, problem paths, and the one duration and `where` grammar they share.
 */
export { DefinitionProblem, expecting, formatPath, reportProblems, show } from './problems';
export { parseYaml } from './yaml';
export { isMapping, parseWith, strictMapping } from './schema';
export {
  DAY_MS,
  DURATION_HINT,
  HOUR_MS,
  MAX_DURATION_MS,
  MINUTE_MS,
  SECOND_MS,
  durationProblem,
  durationSchema,
  formatAge,
  formatDuration,
  parseDuration,
  type Duration,
  type DurationLimits,
} from './duration';
export {
  EVENT_FIELD_HINT,
  EVENT_STRING_FIELDS,
  eventFieldSchema,
  eventFieldValue,
  isEventField,
  matchesWhere,
  sortedWhere,
  whereSchema,
  type EventField,
  type FieldEquals,
} from './where';
