/**
 * The tracker's pages: small, server-rendered, every inserted text HTML-escaped, no script, no
 * customer value (no name, no address: the link's token is all they know), and the headers
 * that keep them inert (CSP, nosniff, no referrer, no framing, no caching). Pure.
 */

/** Headers of every tracker page and answer. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  // No script, no external resource; forms post back to the tracker only.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`=]/g, (char) => `&#${char.charCodeAt(0)};`);
}

export interface Page {
  status: number;
  html: string;
}

/** One page: a title, paragraphs (plain text, escaped here) and optional trusted form markup built below. */
function page(status: number, title: string, paragraphs: readonly string[], extra = ''): Page {
  const body = paragraphs.map((text) => `<p>${escapeHtml(text)}</p>`).join('\n');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#18181b}button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem 0;cursor:pointer}form{margin:1rem 0}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
${extra}
</body>
</html>
`;
  return { status, html };
}

/** A form posting `fields` back to the page's own URL (no action attribute: relative to wherever the tracker is mounted). */
function form(fields: Record<string, string>, button: string): string {
  const inputs = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  return `<form method="post">${inputs}<button type="submit">${escapeHtml(button)}</button></form>`;
}

/**
 * Why a link is refused, in words for a person (never the token, never the technical reason).
 * On an unsubscribe or preferences link the page also says how to unsubscribe otherwise
 * (`helpUrl`, TRACKER_HELP_URL): a dead unsubscribe link must not end at an error alone.
 */
export function refusedPage(expired: boolean, subscription: { helpUrl: string | null } | null = null): Page {
  const other = subscription === null ? [] : ['To stop our marketing email, use the unsubscribe link of a more recent email from us' + (subscription.helpUrl === null ? ', or contact us.' : ', or the page below.')];
  const help = subscription?.helpUrl ? `<p><a href="${escapeHtml(subscription.helpUrl)}">Manage your email subscription</a></p>` : '';
  return expired
    ? page(410, 'This link has expired', ['The link you followed is too old to use.', ...other], help)
    : page(400, 'This link does not work', ['The link you followed is incomplete or was changed. Please use the link exactly as it appears in the email.', ...other], help);
}

/** GET /u/<token>: nothing changes until the button is pressed (mail scanners fetch every link). */
export function unsubscribeConfirmPage(): Page {
  return page(200, 'Unsubscribe', ['Press the button to stop receiving marketing email from us.'], form({ 'List-Unsubscribe': 'One-Click', source: 'page' }, 'Unsubscribe'));
}

/** After an unsubscribe; `preferencesHref` (relative) lets the customer take it back. */
export function unsubscribedPage(preferencesHref: string | null): Page {
  const link = preferencesHref === null ? '' : `<p><a href="${escapeHtml(preferencesHref)}">Changed your mind? Manage your email preferences.</a></p>`;
  return page(200, 'You are unsubscribed', ['You will receive no more marketing email from us. It can take a few minutes for emails already on their way.'], link);
}

/** GET /p/<token>. The tracker keeps no state, so the page offers both choices. */
export function preferencesPage(): Page {
  return page(
    200,
    'Email preferences',
    ['Choose whether you want to receive marketing email from us.'],
    form({ action: 'unsubscribe' }, 'Unsubscribe from all marketing email') + form({ action: 'resubscribe' }, 'Receive marketing email again'),
  );
}

export function preferencesSavedPage(action: 'unsubscribe' | 'resubscribe'): Page {
  return action === 'unsubscribe'
    ? page(200, 'You are unsubscribed', ['You will receive no more marketing email from us.'], form({ action: 'resubscribe' }, 'Receive marketing email again'))
    : page(200, 'You are subscribed again', ['You will receive our marketing email again, as long as you agreed to it in your account.'], form({ action: 'unsubscribe' }, 'Unsubscribe from all marketing email'));
}

/** The request body was not what the page or RFC 8058 sends. */
export function badFormPage(status: 400 | 413 | 415): Page {
  const reason = status === 413 ? 'The request was too large.' : status === 415 ? 'The request was not a form submission.' : 'The request did not say what to do.';
  return page(status, 'Nothing was changed', [reason, 'Please use the button on the page again.']);
}

/** The event could not be recorded in time (Kafka unreachable): the customer should retry. */
export function retryLaterPage(): Page {
  return page(503, 'Please try again', ['We could not record your choice just now. Nothing was changed; please try again in a minute.']);
}
