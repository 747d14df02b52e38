/**
 * The bounds that keep one customer's trigger state small, whatever the customer does.
 * Changing one changes what the engine remembers; each says what is lost beyond it.
 */

/**
 * Event ids remembered per customer to drop re-delivered duplicates; an older duplicate counts
 * again. Kafka redeliveries never reach this list (the partition's offset fence drops them); it
 * catches a producer sending the same event twice, which happens within a few events of the
 * original. 16 keeps the stored state small (it was 64: up to 960 bytes of every state).
 */
export const SEEN_EVENT_IDS = 16;

/**
 * Characters of a SHA-256 (base64url) kept per remembered event id: 48 bits. A new event is
 * taken for a duplicate by mistake with probability 16 / 2^48 (about 6e-14).
 */
export const SEEN_HASH_CHARS = 8;

/**
 * Groups (e.g. products) kept per threshold rule and customer: the most recently active by event
 * time. An evicted group starts again from zero if it becomes active again.
 */
export const MAX_GROUPS_PER_RULE = 50;

/** Product ids remembered in a tracked cart (the most recently added). */
export const CART_MAX_ITEMS = 20;

/**
 * Longest field value (product id, category, group value) stored verbatim. Longer group values
 * are stored as a hash; longer product ids are not tracked in the cart or copied into a pending
 * absence (the trigger then lacks that context field).
 */
export const MAX_STORED_VALUE_CHARS = 200;

/** The largest `greater_than` of a threshold rule: the engine keeps greater_than + 1 timestamps per group. */
export const MAX_GREATER_THAN = 100;

/** The longest window, `within` or cooldown a rule may name (365 days). */
export const MAX_DURATION_MS = 365 * 86_400_000;
