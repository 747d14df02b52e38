package io.kairos.bench.streams;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * One task (input partition) of the app: per record, the customer's state from RocksDB, due
 * timers fired by the partition's stream time before the event, the event applied, the state
 * and timer index written back, triggers forwarded to the sink. Like services/kit/partition-
 * processor.ts: a timer is due once the partition's stream time (newest occurred_at read) has
 * passed it, or once the partition is read to its log end and the (frozen) clock has passed it;
 * with the wall clock (--now live, the latency rows), once the clock has passed it.
 *
 * Stores (RocksDB, changelogged): `customer-state` customer -> CustomerState bytes; `timers`
 * (8-byte big-endian due time + customer) -> empty, the partition's timers by due time;
 * `stream-time` the partition's stream time.
 */
final class TriggerProcessor implements Processor<byte[], byte[], byte[], byte[]> {
  static final String STATE_STORE = "customer-state";
  static final String TIMER_STORE = "timers";
  static final String META_STORE = "stream-time";
  private static final byte[] NO_VALUE = new byte[0];
  private static final String STREAM_TIME_KEY = "stream-time";

  private final Settings settings;
  private ProcessorContext<byte[], byte[]> context;
  private KeyValueStore<String, byte[]> states;
  private KeyValueStore<Bytes, byte[]> timers;
  private KeyValueStore<String, Long> meta;
  private Codec codec;
  private int partition;
  private long streamTime = Long.MIN_VALUE; // MIN: no event read yet
  private long lastOffset = -1;
  /** A lower bound of the earliest due time in `timers` (MIN: unknown, look). */
  private long nextDue = Long.MIN_VALUE;
  private final List<Trigger> fired = new ArrayList<>();

  TriggerProcessor(Settings settings) {
    this.settings = settings;
  }

  @Override
  public void init(ProcessorContext<byte[], byte[]> context) {
    this.context = context;
    this.states = context.getStateStore(STATE_STORE);
    this.timers = context.getStateStore(TIMER_STORE);
    this.meta = context.getStateStore(META_STORE);
    this.partition = context.taskId().partition();
    Long stored = meta.get(STREAM_TIME_KEY);
    if (stored != null) streamTime = stored;
    try {
      this.codec = new Codec(settings.schemas, settings.triggerSchemaId);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
    // The service's timer tick: stream time, or the clock once the partition is caught up.
    context.schedule(Duration.ofMillis(settings.tickMs), PunctuationType.WALL_CLOCK_TIME, ts -> {
      long dueBy = dueBy();
      if (dueBy != Long.MIN_VALUE && dueBy >= nextDue) fireIndexed(dueBy, ts);
    });
  }

  @Override
  public void process(Record<byte[], byte[]> record) {
    Progress.firstRecord();
    RecordMetadata md = context.recordMetadata().orElse(null);
    if (md != null) lastOffset = md.offset();
    String key = record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8);
    Event event = codec.decode(record.value());
    // What the consumer runner dead-letters never reaches the logic: undecodable, key not the
    // customer, occurred_at more than MAX_CLOCK_SKEW (5m) ahead of the clock.
    if (event == null || key == null || !key.equals(event.customerId) || event.occurredAt - settings.now() > settings.maxClockSkewMs) {
      Progress.deadLettered();
    } else {
      long before = streamTime;
      byte[] stored = states.get(key);
      CustomerState state = CustomerState.decode(stored);
      long oldDue = state.pending == null ? Long.MIN_VALUE : state.pending.dueAt;
      boolean changed = false;
      fired.clear();
      if (before != Long.MIN_VALUE) {
        Trigger t = Engine.fireDue(state, key, settings.now(), before);
        if (t != null) {
          fired.add(t);
          changed = true;
        }
      }
      changed |= Engine.applyEvent(state, event, settings.now(), fired);
      if (changed) {
        states.put(key, state.encode());
        long newDue = state.pending == null ? Long.MIN_VALUE : state.pending.dueAt;
        if (newDue != oldDue) {
          if (oldDue != Long.MIN_VALUE) timers.delete(timerKey(oldDue, key));
          if (newDue != Long.MIN_VALUE) {
            timers.put(timerKey(newDue, key), NO_VALUE);
            if (nextDue != Long.MIN_VALUE) nextDue = Math.min(nextDue, newDue);
          }
        }
      }
      for (Trigger t : fired) forward(t, record.timestamp());
      if (event.occurredAt > streamTime) {
        streamTime = event.occurredAt;
        meta.put(STREAM_TIME_KEY, streamTime);
      }
    }
    // Timers of the partition's other customers due by the stream time reached (Kairos: after
    // each batch), and, once the last record of the log end is read, everything due by the clock.
    long dueBy = dueBy();
    if (dueBy != Long.MIN_VALUE && dueBy >= nextDue) fireIndexed(dueBy, record.timestamp());
    Progress.processed();
    if (Progress.offsetProcessed(partition, lastOffset)) context.commit(); // read to its end: commit now, not at the next interval
  }

  /**
   * The time up to which timers are due; MIN when none. With the wall clock (--now live), as a
   * live trigger service: everything due by the clock.
   */
  private long dueBy() {
    if (settings.live) return Math.max(streamTime, settings.now());
    Long end = Progress.endOffset(partition);
    boolean caughtUp = end != null && lastOffset + 1 >= end;
    if (caughtUp) return Math.max(streamTime, settings.now());
    return streamTime;
  }

  /**
   * Fires every indexed timer due by `dueBy` (each customer's state read and written back); one
   * iterator finds them and the next due time after them.
   */
  private void fireIndexed(long dueBy, long timestamp) {
    List<Bytes> due = new ArrayList<>();
    long next = Long.MAX_VALUE;
    try (KeyValueIterator<Bytes, byte[]> it = timers.all()) {
      while (it.hasNext()) {
        Bytes key = it.next().key;
        long dueAt = dueAtOf(key);
        if (dueAt > dueBy) {
          next = dueAt;
          break;
        }
        due.add(key);
      }
    }
    nextDue = next;
    for (Bytes k : due) {
      timers.delete(k);
      String customer = new String(k.get(), 8, k.get().length - 8, StandardCharsets.UTF_8);
      byte[] stored = states.get(customer);
      if (stored == null) continue;
      CustomerState state = CustomerState.decode(stored);
      Trigger t = Engine.fireDue(state, customer, settings.now(), dueBy);
      if (t != null) {
        states.put(customer, state.encode());
        forward(t, timestamp);
      } else if (state.pending != null) {
        timers.put(timerKey(state.pending.dueAt, customer), NO_VALUE); // moved since: keep its current time
        nextDue = Math.min(nextDue, state.pending.dueAt);
      }
    }
  }

  private static long dueAtOf(Bytes key) {
    return ByteBuffer.wrap(key.get(), 0, 8).getLong() ^ Long.MIN_VALUE;
  }

  private void forward(Trigger t, long timestamp) {
    context.forward(new Record<>(t.customerId.getBytes(StandardCharsets.UTF_8), codec.encode(t), timestamp));
    Progress.triggered();
  }

  /** Due time (sign bit flipped, so byte order is numeric order) + customer. */
  private static Bytes timerKey(long dueAt, String customer) {
    byte[] c = customer.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + c.length);
    b.putLong(dueAt ^ Long.MIN_VALUE);
    b.put(c);
    return Bytes.wrap(b.array());
  }

}
