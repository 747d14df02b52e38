package io.kairos.bench.streams;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Set;

/**
 * The trigger service's two shipped rules (config/triggers.yaml), with the semantics of
 * services/core/triggers (engine.ts, threshold.ts, absence.ts, cart.ts, limits.ts), hard-coded:
 *
 *   high_interest:  threshold, product_view grouped by product_id, greater_than 3 within 24h
 *                   (event time, both ends), edge-triggered with re-arming, no cooldown, 50
 *                   groups kept per customer, events older than newest - window too late;
 *   cart_abandoned: absence, add_to_cart not followed by purchase or checkout_started within
 *                   15m, on_repeat restart, context cart (20 items, ids with a comma untracked).
 *
 * Pure: mutates the state it is given and returns the triggers; `now` is the (frozen) service
 * clock, every trigger's fired_at. The caller fires due timers (fireDue) before an event by
 * the partition's stream time, as applyEvents does.
 */
final class Engine {
  static final String HIGH_INTEREST = "high_interest";
  static final String CART_ABANDONED = "cart_abandoned";
  static final long WINDOW_MS = 24 * 3_600_000L;
  static final String WINDOW = "24h";
  static final int GREATER_THAN = 3;
  static final long COOLDOWN_MS = 0;
  static final long WITHIN_MS = 15 * 60_000L;
  static final String WITHIN = "15m";
  static final int MAX_GROUPS_PER_RULE = 50;
  static final int CART_MAX_ITEMS = 20;
  static final int MAX_STORED_VALUE_CHARS = 200;

  static final Set<String> KNOWN_TYPES = Set.of(
      "page_view", "product_view", "add_to_cart", "remove_from_cart", "checkout_started", "purchase",
      "email_open", "email_click", "unsubscribe");

  private Engine() {}

  /** Fires the customer's cart_abandoned wait when it is due by `dueBy`; null when none is. */
  static Trigger fireDue(CustomerState s, String customerId, long now, long dueBy) {
    if (s.pending == null || s.pending.dueAt > dueBy) return null;
    CustomerState.Pending pending = s.pending;
    s.pending = null;
    return absenceTrigger(s, customerId, pending, now);
  }

  /** Applies one event; returns whether the state changed (a write is needed). Triggers go to `out`. */
  static boolean applyEvent(CustomerState s, Event e, long now, List<Trigger> out) {
    if (!KNOWN_TYPES.contains(e.type)) return false;
    boolean cartEvent = e.type.equals("add_to_cart") || e.type.equals("remove_from_cart") || e.type.equals("purchase");
    boolean threshold = e.type.equals("product_view") && nonEmpty(e.productId);
    boolean cancelling = e.type.equals("purchase") || e.type.equals("checkout_started");
    boolean arming = e.type.equals("add_to_cart");
    if (!(cartEvent || threshold || cancelling || arming)) return false;
    if (!s.rememberEventId(seenHash(e.eventId))) return false; // a duplicate

    if (cartEvent) {
      if (!s.hasCart) {
        s.hasCart = true;
        s.cartItems.clear();
        s.cartLastAdded = null;
      }
      applyCart(s, e);
    }
    if (threshold) {
      Trigger t = applyThreshold(s, e, now);
      if (t != null) out.add(t);
    }
    if (cancelling || arming) {
      ensureAbsence(s);
      if (cancelling) cancel(s, e);
      else arm(s, e);
    }
    if (e.type.equals("remove_from_cart")) {
      ensureAbsence(s); // the engine creates the rule's state here too (ruleStateOf)
      if (s.pending != null && (!s.hasCart || s.cartItems.isEmpty())) s.pending = null;
    }
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // high_interest

  private static Trigger applyThreshold(CustomerState s, Event e, long now) {
    long t = e.occurredAt;
    if (!s.hasThreshold) {
      s.hasThreshold = true;
      s.newest = t;
      s.groups.clear();
    }
    if (t < s.newest - WINDOW_MS) return null; // too late
    s.newest = Math.max(s.newest, t);
    String groupValue = e.productId;
    String key = groupValue; // Kairos hashes values over 200 characters; equality is the same
    CustomerState.Group group = null;
    for (CustomerState.Group g : s.groups) {
      if (g.key.equals(key)) {
        group = g;
        break;
      }
    }
    if (group == null) {
      group = new CustomerState.Group();
      group.key = key;
      s.groups.add(group);
    }
    int crossed = countEvent(group, t);
    dropStaleGroups(s);
    if (crossed < 0) return null;
    LinkedHashMap<String, String> context = new LinkedHashMap<>();
    context.put("count", Integer.toString(crossed));
    context.put("window", WINDOW);
    if (e.productId != null) context.put("product_id", e.productId);
    if (e.category != null) context.put("category", e.category);
    context.put("product_id", groupValue);
    return new Trigger(HIGH_INTEREST, e.customerId, e.eventId, now, context);
  }

  /** Adds t to the group; the count when this event fires the rule, else -1. */
  private static int countEvent(CustomerState.Group g, long t) {
    long last = g.times.length == 0 ? t : g.times[g.times.length - 1];
    long end = Math.max(t, last);
    long start = end - WINDOW_MS;
    int from = 0;
    while (from < g.times.length && g.times[from] < start) from++;
    int before = g.times.length - from;
    if (before <= GREATER_THAN) g.armed = true;
    int after = before + 1;
    long[] in = new long[before + 1];
    System.arraycopy(g.times, from, in, 0, before);
    int i = before;
    while (i > 0 && in[i - 1] > t) {
      in[i] = in[i - 1];
      i--;
    }
    in[i] = t;
    int keep = Math.min(in.length, GREATER_THAN + 1);
    g.times = keep == in.length ? in : java.util.Arrays.copyOfRange(in, in.length - keep, in.length);
    boolean coolingDown = g.hasFiredAt && end < g.firedAt + COOLDOWN_MS;
    if (!g.armed || after <= GREATER_THAN || coolingDown) return -1;
    g.armed = false;
    g.hasFiredAt = true;
    g.firedAt = end;
    return after;
  }

  private static void dropStaleGroups(CustomerState s) {
    long horizon = s.newest - WINDOW_MS - Math.max(WINDOW_MS, COOLDOWN_MS);
    s.groups.removeIf(g -> g.newestTime() < horizon);
    if (s.groups.size() > MAX_GROUPS_PER_RULE) {
      ArrayList<CustomerState.Group> sorted = new ArrayList<>(s.groups);
      sorted.sort((a, b) -> Long.compare(b.newestTime(), a.newestTime())); // stable, as in Kairos
      Set<CustomerState.Group> keep = new HashSet<>(sorted.subList(0, MAX_GROUPS_PER_RULE));
      s.groups.removeIf(g -> !keep.contains(g));
    }
  }

  // ------------------------------------------------------------------------------------------
  // cart_abandoned and the cart

  private static void ensureAbsence(CustomerState s) {
    if (s.hasAbsence) return;
    s.hasAbsence = true;
    s.hasLastCancel = false;
    s.pending = null;
  }

  private static void cancel(CustomerState s, Event e) {
    long t = e.occurredAt;
    s.lastCancelAt = s.hasLastCancel ? Math.max(s.lastCancelAt, t) : t;
    s.hasLastCancel = true;
    if (s.pending == null || t < s.pending.at) return;
    s.pending = null;
  }

  private static void arm(CustomerState s, Event e) {
    long t = e.occurredAt;
    boolean alreadyFollowed = s.hasLastCancel && s.lastCancelAt >= t;
    boolean keepRunning = s.pending != null && t < s.pending.at; // on_repeat: restart
    if (alreadyFollowed || keepRunning) return;
    CustomerState.Pending p = new CustomerState.Pending();
    p.eventId = e.eventId;
    p.at = t;
    p.dueAt = t + WITHIN_MS;
    p.productId = keepable(e.productId);
    p.category = keepable(e.category);
    s.pending = p;
  }

  private static void applyCart(CustomerState s, Event e) {
    if (e.type.equals("purchase")) {
      s.cartItems.clear();
      s.cartLastAdded = null;
      return;
    }
    String productId = keepable(e.productId);
    if (productId == null || productId.contains(",")) return;
    s.cartItems.removeIf(productId::equals);
    if (e.type.equals("add_to_cart")) {
      s.cartItems.add(productId);
      while (s.cartItems.size() > CART_MAX_ITEMS) s.cartItems.remove(0);
      s.cartLastAdded = productId;
    } else if (productId.equals(s.cartLastAdded)) {
      s.cartLastAdded = s.cartItems.isEmpty() ? null : s.cartItems.get(s.cartItems.size() - 1);
    }
  }

  private static Trigger absenceTrigger(CustomerState s, String customerId, CustomerState.Pending pending, long now) {
    LinkedHashMap<String, String> context = new LinkedHashMap<>();
    context.put("within", WITHIN);
    // cartContext(cart)
    context.put("cart_product_ids", s.hasCart ? String.join(",", s.cartItems) : "");
    if (s.hasCart && s.cartLastAdded != null && !s.cartLastAdded.isEmpty()) context.put("product_id", s.cartLastAdded);
    String productId = pending.productId;
    if (productId == null || !s.hasCart || !s.cartItems.contains(productId)) productId = s.hasCart ? s.cartLastAdded : null;
    if (productId != null) context.put("product_id", productId);
    else context.remove("product_id");
    if (pending.category != null && productId != null && productId.equals(pending.productId)) context.put("category", pending.category);
    return new Trigger(CART_ABANDONED, customerId, pending.eventId, now, context);
  }

  // ------------------------------------------------------------------------------------------
  // Values and ids

  static String keepable(String value) {
    return value != null && value.length() <= MAX_STORED_VALUE_CHARS ? value : null;
  }

  private static boolean nonEmpty(String value) {
    return value != null && !value.isEmpty();
  }

  private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  });

  /** The first 48 bits of SHA-256(event id): what Kairos's 8 base64url characters hold. */
  static long seenHash(String eventId) {
    byte[] d = SHA256.get().digest(eventId.getBytes(StandardCharsets.UTF_8));
    long v = 0;
    for (int i = 0; i < 6; i++) v = (v << 8) | (d[i] & 0xFFL);
    return v;
  }

  private static final char[] HEX = "0123456789abcdef".toCharArray();

  /** services/core/ids.ts triggerId: the first 32 hex characters of SHA-256(rule \0 customer \0 cause). */
  static String triggerId(String rule, String customerId, String discriminator) {
    MessageDigest md = SHA256.get();
    md.update(rule.getBytes(StandardCharsets.UTF_8));
    md.update((byte) 0);
    md.update(customerId.getBytes(StandardCharsets.UTF_8));
    md.update((byte) 0);
    md.update(discriminator.getBytes(StandardCharsets.UTF_8));
    byte[] d = md.digest();
    char[] out = new char[32];
    for (int i = 0; i < 16; i++) {
      out[2 * i] = HEX[(d[i] >> 4) & 0xF];
      out[2 * i + 1] = HEX[d[i] & 0xF];
    }
    return new String(out);
  }
}
