import { KairosError } from '../../kit/errors';

/** The host of a URL is not on the allow-list; configuration, not retriable. */
export class HostNotAllowedError extends KairosError {
  constructor(
    readonly url: string,
    readonly allowedHosts: readonly string[],
  ) {
    super(
      `kairos recommendations: host of ${url} is not allowed; allowed hosts: ${allowedHosts.join(', ') || '(none)'} ` +
        '(add it to RECOMMENDER_ALLOWED_HOSTS, as host or host:port)',
    );
  }
}

/** The recommender answered, but not with something usable (status, body). */
export class RecommenderResponseError extends KairosError {
  constructor(message: string) {
    super(`kairos recommendations: ${message}`, { retriable: true });
  }
}
