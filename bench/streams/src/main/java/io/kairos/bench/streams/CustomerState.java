package io.kairos.bench.streams;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;

/**
 * One customer's trigger state, as services/core/triggers/state.ts keeps it for the two shipped
 * rules: the remembered event ids (first 48 bits of their SHA-256, as the 8 base64url characters
 * Kairos keeps), the tracked cart, high_interest's groups and cart_abandoned's pending wait.
 * Stored in RocksDB as the compact bytes of {@link #encode()}.
 */
final class CustomerState {
  static final int SEEN_EVENT_IDS = 16;

  long[] seen = new long[SEEN_EVENT_IDS];
  int seenCount;

  boolean hasCart;
  ArrayList<String> cartItems = new ArrayList<>();
  String cartLastAdded;

  /** high_interest (threshold) has seen an event. */
  boolean hasThreshold;
  long newest;
  ArrayList<Group> groups = new ArrayList<>();

  /** cart_abandoned (absence) has seen an event. */
  boolean hasAbsence;
  boolean hasLastCancel;
  long lastCancelAt;
  Pending pending;

  static final class Group {
    String key;
    long[] times = new long[0];
    boolean armed = true;
    boolean hasFiredAt;
    long firedAt;

    long newestTime() {
      return times.length == 0 ? Long.MIN_VALUE : times[times.length - 1];
    }
  }

  static final class Pending {
    String eventId;
    long at;
    long dueAt;
    String productId;
    String category;
  }

  /** Remembers the event id; false when it is among the last SEEN_EVENT_IDS (a duplicate). */
  boolean rememberEventId(long hash) {
    for (int i = 0; i < seenCount; i++) if (seen[i] == hash) return false;
    if (seenCount == SEEN_EVENT_IDS) {
      System.arraycopy(seen, 1, seen, 0, SEEN_EVENT_IDS - 1);
      seenCount -= 1;
    }
    seen[seenCount++] = hash;
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // Stored form: varints, strings as length + UTF-8.

  byte[] encode() {
    Out out = new Out();
    out.uint(seenCount);
    for (int i = 0; i < seenCount; i++) out.fixed64(seen[i]);
    out.uint((hasCart ? 1 : 0) | (hasThreshold ? 2 : 0) | (hasAbsence ? 4 : 0));
    if (hasCart) {
      out.uint(cartItems.size());
      for (String item : cartItems) out.string(item);
      out.nullableString(cartLastAdded);
    }
    if (hasThreshold) {
      out.varlong(newest);
      out.uint(groups.size());
      for (Group g : groups) {
        out.string(g.key);
        out.uint((g.armed ? 1 : 0) | (g.hasFiredAt ? 2 : 0));
        if (g.hasFiredAt) out.varlong(g.firedAt);
        out.uint(g.times.length);
        for (long t : g.times) out.varlong(t);
      }
    }
    if (hasAbsence) {
      out.uint((hasLastCancel ? 1 : 0) | (pending != null ? 2 : 0));
      if (hasLastCancel) out.varlong(lastCancelAt);
      if (pending != null) {
        out.string(pending.eventId);
        out.varlong(pending.at);
        out.varlong(pending.dueAt);
        out.nullableString(pending.productId);
        out.nullableString(pending.category);
      }
    }
    return out.bytes();
  }

  static CustomerState decode(byte[] bytes) {
    CustomerState s = new CustomerState();
    if (bytes == null) return s;
    In in = new In(bytes);
    s.seenCount = (int) in.uint();
    for (int i = 0; i < s.seenCount; i++) s.seen[i] = in.fixed64();
    int flags = (int) in.uint();
    s.hasCart = (flags & 1) != 0;
    s.hasThreshold = (flags & 2) != 0;
    s.hasAbsence = (flags & 4) != 0;
    if (s.hasCart) {
      int n = (int) in.uint();
      for (int i = 0; i < n; i++) s.cartItems.add(in.string());
      s.cartLastAdded = in.nullableString();
    }
    if (s.hasThreshold) {
      s.newest = in.varlong();
      int n = (int) in.uint();
      for (int i = 0; i < n; i++) {
        Group g = new Group();
        g.key = in.string();
        int gf = (int) in.uint();
        g.armed = (gf & 1) != 0;
        g.hasFiredAt = (gf & 2) != 0;
        if (g.hasFiredAt) g.firedAt = in.varlong();
        long[] times = new long[(int) in.uint()];
        for (int j = 0; j < times.length; j++) times[j] = in.varlong();
        g.times = times;
        s.groups.add(g);
      }
    }
    if (s.hasAbsence) {
      int af = (int) in.uint();
      s.hasLastCancel = (af & 1) != 0;
      if (s.hasLastCancel) s.lastCancelAt = in.varlong();
      if ((af & 2) != 0) {
        Pending p = new Pending();
        p.eventId = in.string();
        p.at = in.varlong();
        p.dueAt = in.varlong();
        p.productId = in.nullableString();
        p.category = in.nullableString();
        s.pending = p;
      }
    }
    return s;
  }

  private static final class Out {
    byte[] buf = new byte[128];
    int n;

    void ensure(int more) {
      if (n + more > buf.length) buf = Arrays.copyOf(buf, Math.max(buf.length * 2, n + more));
    }

    void uint(long v) {
      ensure(10);
      while ((v & ~0x7FL) != 0) {
        buf[n++] = (byte) ((v & 0x7F) | 0x80);
        v >>>= 7;
      }
      buf[n++] = (byte) v;
    }

    void varlong(long v) {
      uint((v << 1) ^ (v >> 63));
    }

    void fixed64(long v) {
      ensure(8);
      for (int i = 7; i >= 0; i--) buf[n++] = (byte) (v >>> (8 * i));
    }

    void string(String s) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      uint(b.length);
      ensure(b.length);
      System.arraycopy(b, 0, buf, n, b.length);
      n += b.length;
    }

    void nullableString(String s) {
      if (s == null) uint(0);
      else {
        uint(1);
        string(s);
      }
    }

    byte[] bytes() {
      return Arrays.copyOf(buf, n);
    }
  }

  private static final class In {
    final byte[] buf;
    int p;

    In(byte[] buf) {
      this.buf = buf;
    }

    long uint() {
      long v = 0;
      int shift = 0;
      for (;;) {
        byte b = buf[p++];
        v |= (long) (b & 0x7F) << shift;
        if ((b & 0x80) == 0) return v;
        shift += 7;
      }
    }

    long varlong() {
      long z = uint();
      return (z >>> 1) ^ -(z & 1);
    }

    long fixed64() {
      long v = 0;
      for (int i = 0; i < 8; i++) v = (v << 8) | (buf[p++] & 0xFFL);
      return v;
    }

    String string() {
      int len = (int) uint();
      String s = new String(buf, p, len, StandardCharsets.UTF_8);
      p += len;
      return s;
    }

    String nullableString() {
      return uint() == 0 ? null : string();
    }
  }
}
