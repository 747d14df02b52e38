/** A whole number of 1 or more from the environment variable `name`, else `fallback`; anything else stops the tool, naming the value. */
export function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`bench: ${name}=${raw} is not a positive integer; unset it for ${fallback}`);
  return value;
}
