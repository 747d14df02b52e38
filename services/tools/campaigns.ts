/**
 * The deliverability guard's pause list, for operators:
 *
 *   npm run campaigns -- paused          # the paused campaigns, why and since when (JSON lines)
 *   npm run campaigns -- resume NAME     # resume one: off the pause list, its guard window starts afresh
 *
 * A campaign pauses itself when its complaint or hard-bounce rate passes the tracker's
 * threshold (docs/operations.md, "Deliverability guard"); the renderer then records
 * `skipped (campaign_paused)` for its triggers until it is resumed here.
 */
import { commonShape, loadConfig, runMain } from '../kit/config';
import { FeedbackKeys, parseCampaignPause } from '../kit/feedback-keys';
import { createRedis } from '../kit/redis';
import { resumeCampaign } from '../tracker/feedback/store';

const USAGE = 'usage: campaigns paused\n       campaigns resume CAMPAIGN';

class UsageError extends Error {}

async function main(argv: string[]): Promise<void> {
  const [command, name, ...rest] = argv;
  if (!((command === 'paused' && name === undefined) || (command === 'resume' && name !== undefined && name !== '' && rest.length === 0))) throw new UsageError(USAGE);
  const config = loadConfig(commonShape);
  const redis = createRedis(config, { connectionName: 'kairos-campaigns' });
  try {
    if (command === 'paused') {
      const hash = await redis.hgetall(new FeedbackKeys(config.REDIS_KEY_PREFIX).paused());
      const names = Object.keys(hash).sort();
      for (const campaign of names) {
        const pause = parseCampaignPause(hash[campaign] as string);
        process.stdout.write(`${JSON.stringify({ campaign, paused_at: new Date(pause.at).toISOString(), reason: pause.reason, detail: pause.detail })}\n`);
      }
      if (names.length === 0) process.stderr.write('No campaign is paused.\n');
      return;
    }
    const resumed = await resumeCampaign(redis, config.REDIS_KEY_PREFIX, name as string);
    process.stdout.write(resumed ? `Resumed ${name}: the renderer sends it again from its next trigger; its guard window starts afresh.\n` : `${name} was not paused; nothing changed.\n`);
  } finally {
    redis.disconnect();
  }
}

if (require.main === module) void runMain('campaigns', () => main(process.argv.slice(2)));
