package io.kairos.bench.streams;

/** The fields of a BehaviorEvent the two rules read. */
final class Event {
  String eventId;
  String customerId;
  String type;
  long occurredAt;
  String productId;
  String category;
}
