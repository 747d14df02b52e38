/**
 * A whole number of `least` or more (1 unless said) from the environment variable `name`, else
 * `fallback`; anything else stops the tool, naming the value.
 */
export function intEnv(name: string, fallback: number, least = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < least) {
    const wanted = least === 1 ? 'a positive integer' : `a whole number of ${least} or more`;
    throw new Error(`bench: ${name}=${raw} is not ${wanted}; unset it for ${fallback}`);
  }
  return value;
}
