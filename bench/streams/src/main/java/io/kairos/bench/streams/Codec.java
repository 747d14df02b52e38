package io.kairos.bench.streams;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

/**
 * Avro in the Confluent wire format (magic byte 0, 4-byte schema id, Avro binary), with the
 * project's schemas/*.avsc read at start-up: BehaviorEvent in (every record was written with
 * that schema; the id is not looked up), TriggerFired out under the id the bench registered.
 * One instance per processor (not thread-safe).
 */
final class Codec {
  private final Schema eventSchema;
  private final Schema triggerSchema;
  private final GenericDatumReader<GenericRecord> reader;
  private final GenericDatumWriter<GenericRecord> writer;
  private final int triggerSchemaId;
  private BinaryDecoder decoder;
  private BinaryEncoder encoder;
  private GenericRecord reuse;
  private final ByteArrayOutputStream buffer = new ByteArrayOutputStream(512);

  Codec(Path schemas, int triggerSchemaId) throws IOException {
    this.eventSchema = new Schema.Parser().parse(Files.readString(schemas.resolve("BehaviorEvent.avsc")));
    this.triggerSchema = new Schema.Parser().parse(Files.readString(schemas.resolve("TriggerFired.avsc")));
    this.reader = new GenericDatumReader<>(eventSchema);
    this.writer = new GenericDatumWriter<>(triggerSchema);
    this.triggerSchemaId = triggerSchemaId;
  }

  /** The event, or null when the bytes are not a wire-format BehaviorEvent. */
  Event decode(byte[] bytes) {
    if (bytes == null || bytes.length < 5 || bytes[0] != 0) return null;
    try {
      decoder = DecoderFactory.get().binaryDecoder(bytes, 5, bytes.length - 5, decoder);
      reuse = reader.read(reuse, decoder);
    } catch (IOException | RuntimeException e) {
      return null;
    }
    Event e = new Event();
    e.eventId = str(reuse.get("event_id"));
    e.customerId = str(reuse.get("customer_id"));
    e.type = str(reuse.get("type"));
    e.occurredAt = (Long) reuse.get("occurred_at");
    e.productId = str(reuse.get("product_id"));
    e.category = str(reuse.get("category"));
    return e;
  }

  byte[] encode(Trigger t) {
    GenericRecord r = new GenericData.Record(triggerSchema);
    r.put("trigger_id", t.triggerId);
    r.put("rule", t.rule);
    r.put("customer_id", t.customerId);
    r.put("fired_at", t.firedAt);
    r.put("cause_event_id", t.causeEventId);
    Map<String, String> context = new HashMap<>(t.context);
    r.put("context", context);
    buffer.reset();
    buffer.write(0);
    buffer.write(triggerSchemaId >>> 24);
    buffer.write(triggerSchemaId >>> 16);
    buffer.write(triggerSchemaId >>> 8);
    buffer.write(triggerSchemaId);
    try {
      encoder = EncoderFactory.get().binaryEncoder(buffer, encoder);
      writer.write(r, encoder);
      encoder.flush();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return buffer.toByteArray();
  }

  private static String str(Object value) {
    return value == null ? null : value.toString();
  }
}
