import { ConfigError } from '../../services/kit/errors';

/** The ConfigError `action` throws (loading a config, starting a service); anything else is rethrown. */
export function configErrorOf(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
