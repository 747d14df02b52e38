/**
 * True when `url` is http(s) and its host is allowed: an entry matches the hostname alone
 * (any port) or `host:port` exactly; case-insensitive, and the host of a URL with
 * credentials is never allowed (`http://allowed@evil/` tricks humans reading logs).
 */
export function isAllowedUrl(url: URL, allowedHosts: readonly string[]): boolean {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (url.username !== '' || url.password !== '') return false;
  const hostname = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return allowedHosts.some((entry) => {
    const allowed = entry.trim().toLowerCase();
    return allowed === hostname || allowed === `${hostname}:${port}`;
  });
}
