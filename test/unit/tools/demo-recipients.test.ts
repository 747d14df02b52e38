/** The demo's simulated recipients: link extraction and deterministic decisions. */
import { RECIPIENT_ODDS, purchaseEventId, recipientPlan, trackerLinks } from '../../../services/tools/demo-recipients';

const HTML = `<p><a href="http://127.0.0.1:8094/c/v2.k1.aaa">Trail Boots</a> <a href="http://127.0.0.1:8094/c/v2.k1.bbb?x=1&amp;y=2">More</a>
<a href="http://127.0.0.1:8094/c/v2.k1.aaa">again</a> <a href="http://127.0.0.1:8094/u/v2.k1.ccc">Unsubscribe</a>
<a href="http://127.0.0.1:8094/p/v2.k1.ddd">Preferences</a> <img src="http://127.0.0.1:8094/o/v2.k1.eee" alt=""> <a href="mailto:x@example.com">mail</a></p>`;

describe('trackerLinks', () => {
  it('finds the open pixel and the distinct click links, never unsubscribe or preferences', () => {
    expect(trackerLinks(HTML)).toEqual({
      open: 'http://127.0.0.1:8094/o/v2.k1.eee',
      clicks: ['http://127.0.0.1:8094/c/v2.k1.aaa', 'http://127.0.0.1:8094/c/v2.k1.bbb?x=1&y=2'],
    });
  });

  it('copes with an email without links', () => {
    expect(trackerLinks('<p>plain</p>')).toEqual({ open: null, clicks: [] });
  });
});

describe('recipientPlan', () => {
  const links = trackerLinks(HTML);
  const plans = Array.from({ length: 4000 }, (_, i) => recipientPlan(7, `t-${i}`, links));

  it('is a function of the seed and the trigger id', () => {
    expect(recipientPlan(7, 't-1', links)).toEqual(plans[1]);
    const other = Array.from({ length: 50 }, (_, i) => recipientPlan(8, `t-${i}`, links));
    expect(other).not.toEqual(plans.slice(0, 50));
  });

  it('clicks only when it opens, buys only when it clicks, and follows a click link', () => {
    for (const plan of plans) {
      if (plan.click !== null) {
        expect(plan.open).toBe(true);
        expect(links.clicks).toContain(plan.click);
      }
      if (plan.buyCents !== null) expect(plan.click).not.toBeNull();
    }
  });

  it('matches the documented odds', () => {
    const opened = plans.filter((p) => p.open).length;
    const clicked = plans.filter((p) => p.click !== null).length;
    const bought = plans.filter((p) => p.buyCents !== null).length;
    expect(opened / plans.length).toBeCloseTo(RECIPIENT_ODDS.open, 1);
    expect(clicked / opened).toBeCloseTo(RECIPIENT_ODDS.click, 1);
    expect(bought / clicked).toBeCloseTo(RECIPIENT_ODDS.buy, 1);
  });

  it('never clicks an email without click links', () => {
    expect(plans.map((_, i) => recipientPlan(7, `t-${i}`, { open: null, clicks: [] }).click).every((c) => c === null)).toBe(true);
  });

  it('names purchases by seed and email', () => {
    expect(purchaseEventId(7, 'abc')).toBe('demo-7-buy-abc');
  });
});
